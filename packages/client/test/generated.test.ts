import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderTypes } from "../scripts/render-types.ts";

describe("generated types", () => {
  it("are what openapi-typescript makes of openapi.json", async () => {
    const committed = readFileSync(join(import.meta.dirname, "..", "src", "generated", "openapi.ts"), "utf8");
    expect(committed === (await renderTypes()), "src/generated/openapi.ts is out of date: run `pnpm openapi:write` from the repository root").toBe(true);
  });
});
