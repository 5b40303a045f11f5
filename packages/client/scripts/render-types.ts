import { readFileSync } from "node:fs";
import { join } from "node:path";
import openapiTS, { astToString } from "openapi-typescript";

const HEADER = "// Generated from openapi.json by openapi-typescript (`pnpm openapi:write` at the repository root). Do not edit.\n";

export async function renderTypes(): Promise<string> {
  const doc = JSON.parse(readFileSync(join(import.meta.dirname, "..", "openapi.json"), "utf8"));
  return HEADER + astToString(await openapiTS(doc));
}
