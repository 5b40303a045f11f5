/**
 * C0 and C1 control characters (and DEL). No identifier, token, name or URL the broker accepts
 * needs one, and Postgres refuses NUL in text (error 22021), so they are refused at every entry
 * point instead of reaching the database.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export const hasControlCharacter = (value: string): boolean => CONTROL.test(value);

/** Whether any string (or key) inside a parsed body, query or params object holds a control character. */
export function containsControlCharacter(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return CONTROL.test(value);
  if (depth > 32 || value === null || typeof value !== "object" || Buffer.isBuffer(value)) return false;
  if (Array.isArray(value)) return value.some((item) => containsControlCharacter(item, depth + 1));
  // for…in, not Object.keys: no array per object on every request (inherited keys only add checks).
  for (const key in value) {
    if (CONTROL.test(key) || containsControlCharacter((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}
