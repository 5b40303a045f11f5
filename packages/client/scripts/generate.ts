// src/generated/openapi.ts from openapi.json (the broker's document): `pnpm openapi:write` at the
// repository root runs this after writing the document; test/generated.test.ts checks they agree.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderTypes } from "./render-types.ts";

const target = join(import.meta.dirname, "..", "src", "generated", "openapi.ts");
writeFileSync(target, await renderTypes());
console.log(`wrote ${target}`);
