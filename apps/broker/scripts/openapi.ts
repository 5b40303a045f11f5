// Writes the broker's OpenAPI document to packages/client/openapi.json (`pnpm openapi:write`,
// which then regenerates the client's types from it).
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDb } from "@link-broker/db/testing";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { openApiFile } from "../src/openapi/openapi-document.ts";

const db = await createTestDb();
const config = loadConfig(
  { BROKER_MASTER_KEY: randomBytes(32).toString("base64"), BROKER_REGISTRATION_TOKEN: randomBytes(32).toString("base64url"), LOG_LEVEL: "silent" },
  { dataDir: mkdtempSync(join(tmpdir(), "lb-openapi-")) },
);
const app = await buildApp({ config, db, logger: false });
await app.ready();
const target = join(import.meta.dirname, "..", "..", "..", "packages", "client", "openapi.json");
writeFileSync(target, openApiFile(app));
await app.close();
await db.drop();
console.log(`wrote ${target}`);
