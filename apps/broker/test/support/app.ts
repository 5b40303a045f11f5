import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../src/app.ts";
import { buildTestApp } from "./suite-log.ts";
import { loadConfig, type Config } from "../../src/config.ts";

export const TEST_MASTER_KEY = randomBytes(32).toString("base64");
export const TEST_REGISTRATION_TOKEN = randomBytes(32).toString("base64url");

/**
 * Test servers (bank providers, JWKS hosts) run on loopback; SSRF tests turn this off with "".
 * Not set for a production configuration, which refuses it.
 */
export const TEST_OUTBOUND_ALLOWLIST = "127.0.0.0/8,::1";

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig(
    {
      BROKER_MASTER_KEY: TEST_MASTER_KEY,
      BROKER_REGISTRATION_TOKEN: TEST_REGISTRATION_TOKEN,
      LOG_LEVEL: "silent",
      // Production configs in tests would shed load whenever the shared test machine stalls a
      // second; test/load-shedding.test.ts sets its own limit.
      BROKER_MAX_EVENT_LOOP_DELAY_MS: "0",
      ...(env.NODE_ENV === "production" ? {} : { BROKER_OUTBOUND_ALLOWLIST: TEST_OUTBOUND_ALLOWLIST }),
      ...env,
    },
    { dataDir: mkdtempSync(join(tmpdir(), "lb-test-")) },
  );
}

export interface TestBroker {
  app: FastifyInstance;
  db: TestDb;
  config: Config;
  close(): Promise<void>;
}

/** A broker on a fresh database (PGlite, or Postgres when DATABASE_URL is set), not listening. */
export async function startTestBroker(options: { env?: Record<string, string>; deps?: Partial<AppDeps> } = {}): Promise<TestBroker> {
  const db = await createTestDb();
  const config = testConfig(options.env);
  const app = await buildTestApp({ config, db, logger: false, ...options.deps });
  await app.ready();
  return {
    app,
    db,
    config,
    async close() {
      await app.close();
      await db.drop();
    },
  };
}
