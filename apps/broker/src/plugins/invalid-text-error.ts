/** Postgres codes for a text value the database cannot store: NUL or a bad byte (22021), untranslatable (22P05). */
const INVALID_TEXT = new Set(["22021", "22P05"]);

/**
 * True when the database refused a value for its encoding. That is always the caller's input
 * (a NUL byte that got past the checks), so the HTTP layer answers 400 instead of 500. Prisma
 * with a driver adapter carries the Postgres code in `meta.driverAdapterError.cause`.
 */
export function isInvalidTextError(error: unknown): boolean {
  for (let e = error as Record<string, unknown> | undefined, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const adapter = (e.meta as { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown } } } | undefined)?.driverAdapterError?.cause;
    for (const code of [adapter?.originalCode, adapter?.code, e.code]) if (typeof code === "string" && INVALID_TEXT.has(code)) return true;
    e = e.cause as Record<string, unknown> | undefined;
  }
  return false;
}
