#!/usr/bin/env node
// Runs the TypeScript CLI through the tsx loader, resolved from this package (not from the
// caller's working directory), and passes its exit code on unchanged.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
const cli = fileURLToPath(new URL("../src/cli/cli.ts", import.meta.url));
const res = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), cli, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(res.status ?? 1);
