import { createTestDb, type TestDb } from "@link-broker/db/testing";
import type { FastifyInstance } from "fastify";
import * as oidc from "openid-client";
import { afterAll, beforeAll } from "vitest";
import type { AppDeps } from "../../src/app.ts";
import { buildTestApp } from "./suite-log.ts";
import type { Config } from "../../src/config.ts";
import { testConfig, TEST_REGISTRATION_TOKEN } from "./app.ts";
import { freePort } from "./ports.ts";

export interface RunningBroker {
  app: FastifyInstance;
  db: TestDb;
  config: Config;
  url: string;
  close(): Promise<void>;
}


/** A broker listening on a loopback port, its issuer being that address, driven over real HTTP. */
export async function startRunningBroker(options: { deps?: Partial<AppDeps>; setup?: (app: FastifyInstance) => void } = {}): Promise<RunningBroker> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const db = await createTestDb();
  const config = testConfig({ PUBLIC_URL: url, PORT: String(port) });
  const app = await buildTestApp({ config, db, logger: false, ...options.deps });
  options.setup?.(app);
  await app.listen({ port, host: "127.0.0.1" });
  return {
    app,
    db,
    config,
    url,
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

/** A broker of its own for the enclosing describe block: started before its tests, closed after them. */
export function runningBrokerForSuite(): { readonly broker: RunningBroker } {
  const suite = {} as { broker: RunningBroker };
  beforeAll(async () => {
    suite.broker = await startRunningBroker();
  });
  afterAll(() => suite.broker?.close());
  return suite;
}

export interface Registered {
  client_id: string;
  client_secret?: string;
  registration_access_token: string;
  registration_client_uri: string;
  [k: string]: unknown;
}

export async function registerClient(url: string, metadata: Record<string, unknown>): Promise<Registered> {
  const res = await fetch(`${url}/connect/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(metadata),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as Registered;
}

/** An openid-client configuration for a registered client (RFC 8414 discovery, http loopback allowed). */
export async function clientConfig(url: string, clientId: string, auth: oidc.ClientAuth): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(url), clientId, undefined, auth, { algorithm: "oauth2", execute: [oidc.allowInsecureRequests] });
}

export async function postForm(url: string, body: Record<string, string> | string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: typeof body === "string" ? body : new URLSearchParams(body).toString(),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, json };
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
