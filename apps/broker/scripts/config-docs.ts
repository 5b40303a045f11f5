// Writes README's configuration table and .env.example from EnvSchema (`pnpm config:docs`).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderEnvExample, withConfigTable } from "../src/config-docs.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const readmePath = join(root, "README.md");
writeFileSync(readmePath, withConfigTable(readFileSync(readmePath, "utf8")));
writeFileSync(join(root, ".env.example"), renderEnvExample());
console.log("wrote README.md (configuration table) and .env.example");
