import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_DOCS_COMMAND, renderEnvExample, variableDocs, withConfigTable } from "../src/config-docs.ts";
import { EnvSchema } from "../src/config.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const hint = `out of date with apps/broker/src/config.ts: run \`${CONFIG_DOCS_COMMAND}\` from the repository root and commit the result`;

describe("configuration docs", () => {
  it("README's configuration table is the one the schema renders", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(withConfigTable(readme) === readme, `README.md's configuration table is ${hint}`).toBe(true);
  });

  it(".env.example is the one the schema renders", () => {
    const current = readFileSync(join(root, ".env.example"), "utf8");
    expect(renderEnvExample() === current, `.env.example is ${hint}`).toBe(true);
  });

  it("documents every variable of the schema, each with a description", () => {
    const docs = variableDocs();
    expect(docs.map((d) => d.name)).toEqual(Object.keys(EnvSchema.properties));
    for (const d of docs) expect(d.description.length, d.name).toBeGreaterThan(5);
    expect(renderEnvExample()).toContain("# BROKER_WORKERS=1");
  });
});
