#!/usr/bin/env node
// Runs the TypeScript CLI through the tsx loader.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
const cli = fileURLToPath(new URL("../src/cli/cli.ts", import.meta.url));
const res = spawnSync(process.execPath, ["--import", "tsx", cli, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(res.status ?? 1);
