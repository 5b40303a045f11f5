import { accessSync, constants } from "node:fs";

/** The Chromium the browser suite drives: CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.CHROMIUM_PATH || "/usr/bin/chromium";
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    const error = new Error(
      `Chromium not found at ${path}: the browser suite needs it. Install it (Debian/Ubuntu: apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary.`,
    );
    error.stack = error.message; // one line, no stack: nothing here is a bug
    throw error;
  }
}
