#!/usr/bin/env node
// The admin CLI: from the TypeScript source through the tsx loader (resolved from this package,
// not from the caller's working directory) in the repository; the compiled dist/cli.js in a
// production build, which ships no source. The exit code passes on unchanged.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
const source = fileURLToPath(new URL("../src/cli/cli.ts", import.meta.url));
if (existsSync(source)) {
  const res = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), source, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(res.status ?? 1);
} else {
  await import(new URL("../dist/cli.js", import.meta.url).href);
}
