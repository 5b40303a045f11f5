// Consent ledger benchmark (`pnpm bench ledger`). Prints figures; asserts nothing.
// 1. check in-process, warm cache           (target >= 50,000/s)
// 2. POST /ledger/check over HTTP, Postgres vs a bare Fastify route in the same run (target >= 50%)
// 3. appends/s with the chain serialized: one appender, then 8 concurrent appenders
// Uses a temporary Postgres database (DATABASE_URL's server, default 127.0.0.1:5432), dropped after.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../apps/broker/src/app.ts";
import { loadConfig } from "../apps/broker/src/config.ts";
import { createConsentLedger, type ConsentLedger } from "../packages/consent-ledger/src/index.ts";
import { createEphemeralLedgerKeys } from "../packages/consent-ledger/src/testing.ts";
import { createDb, migrate } from "../packages/db/src/index.ts";
import Fastify from "../apps/broker/node_modules/fastify/fastify.js";
import { createScratchDatabase } from "./support/scratch-db.ts";

const requireBroker = createRequire(new URL("../apps/broker/package.json", import.meta.url));
const AUTOCANNON = requireBroker.resolve("autocannon/autocannon.js");
const base = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
// Appends and checks never sign: in-memory ledger keys are enough.
const keys = createEphemeralLedgerKeys();
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");


/** autocannon in its own process, so the load generator does not share the server's event loop. */
function autocannon(url: string, body: string | undefined, headers: Record<string, string>, seconds: number): Promise<{ rps: number; p99: number; non2xx: number }> {
  const args = [AUTOCANNON, "-j", "-c", "50", "-d", String(seconds), ...(body === undefined ? [] : ["-m", "POST", "-b", body, "-H", "content-type=application/json"])];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    p.stdout.on("data", (c) => (out += c));
    p.on("error", reject);
    p.on("exit", () => {
      const r = JSON.parse(out);
      resolve({ rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx });
    });
  });
}

async function timed(seconds: number, fn: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) await fn();
    n += 256;
    // Let I/O in between batches, as a server does between requests: the cache stays trusted
    // only while its heartbeat NOTIFYs keep arriving.
    await new Promise((r) => setImmediate(r));
  }
  return n / ((performance.now() - t0) / 1000);
}

async function appendRate(ledgers: ConsentLedger[], seconds: number): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    ledgers.map(async (l, w) => {
      while (performance.now() < end) {
        await l.grant({ clientId: "bench", subject: `a${w}-${n}`, scopes: ["balance:read"], actor: "customer" });
        n++;
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

const scratch = await createScratchDatabase(base);
const url = new URL(scratch.url);
const db = await createDb({ url: url.href, poolSize: 20 });
try {
  await migrate(db);
  const ledger = createConsentLedger({ db, keys });
  await ledger.ready();
  const N = 500;
  for (let i = 0; i < N; i++) await ledger.grant({ clientId: "bench", subject: `s${i}`, linkId: `l${i}`, scopes: ["balance:read", "alerts:fraud"], actor: "customer" });

  // 1. in-process, warm
  for (let i = 0; i < N; i++) await ledger.check({ linkId: `l${i}` }, { scope: "balance:read" });
  let k = 0;
  const s0 = ledger.cacheStats();
  const warm = await timed(2, () => ledger.check({ linkId: `l${k++ % N}` }, { scope: "balance:read", purpose: "account_servicing" }));
  const s1 = ledger.cacheStats();
  const warmHitRate = (s1.hits - s0.hits) / Math.max(1, s1.hits - s0.hits + s1.misses - s0.misses);
  const cold = createConsentLedger({ db, keys, cache: false });
  let c = 0;
  const uncached = await timed(2, () => cold.check({ linkId: `l${c++ % N}` }, { scope: "balance:read" }));
  await cold.close();
  console.log(`check in-process, warm cache:     ${fmt(warm)} ops/s  (target >= 50,000; cache hit rate ${(warmHitRate * 100).toFixed(1)}%)`);
  console.log(`check in-process, no cache (db):  ${fmt(uncached)} ops/s`);

  // 2. HTTP
  const token = randomBytes(32).toString("base64url");
  const config = loadConfig({ DATABASE_URL: url.href, BROKER_MASTER_KEY: randomBytes(32).toString("base64"), BROKER_REGISTRATION_TOKEN: token, LOG_LEVEL: "silent" }, { dataDir: mkdtempSync(join(tmpdir(), "lb-bench-")) });
  const app = await buildApp({ config, db, logger: false });
  await app.modules.ledger.ledger.ready();
  await app.listen({ port: 0, host: "127.0.0.1" });
  // The bank "bench" asks with its own ledger:check access token, as a real service would.
  await db.prisma.client.upsert({ where: { id: "bench" }, update: {}, create: { id: "bench", name: "Bench Bank", registrationTokenHash: randomBytes(32).toString("hex"), tokenEndpointAuthMethod: "client_secret_basic", grantTypes: ["client_credentials"], scopes: ["ledger:check"] } });
  const checkToken = (await app.modules.oauth.accessTokens.issue({ clientId: "bench", subject: "bench", scopes: ["ledger:check"] })).token;
  const brokerUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/ledger/check`;
  const bare = Fastify({ logger: false });
  bare.post("/check", async () => ({ allowed: true, consent_id: "c", expires_at: null, reason: "active" }));
  bare.get("/healthz", async () => ({ status: "ok" }));
  await bare.listen({ port: 0, host: "127.0.0.1" });
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/check`;
  const body = JSON.stringify({ link_id: "l42", scope: "balance:read", purpose: "account_servicing" });
  await autocannon(brokerUrl, body, { authorization: `Bearer ${checkToken}` }, 1); // warm-up
  // Interleaved rounds, so a load change on a shared machine hits both sides alike.
  const bareRuns: number[] = [];
  const brokerRuns: number[] = [];
  let p99 = { bare: 0, broker: 0 };
  let non2xx = 0;
  const before = app.modules.ledger.ledger.cacheStats();
  for (let round = 0; round < 3; round++) {
    const b = await autocannon(bareUrl, body, {}, 3);
    const r = await autocannon(brokerUrl, body, { authorization: `Bearer ${checkToken}` }, 3);
    bareRuns.push(b.rps);
    brokerRuns.push(r.rps);
    p99 = { bare: Math.max(p99.bare, b.p99), broker: Math.max(p99.broker, r.p99) };
    non2xx += r.non2xx;
  }
  const after = app.modules.ledger.ledger.cacheStats();
  // Context: the broker's app-wide cost (hooks, request ids, metrics) on its cheapest route.
  const bareHealth = await autocannon(bareUrl.replace("/check", "/healthz"), undefined, {}, 3);
  const brokerHealth = await autocannon(brokerUrl.replace("/ledger/check", "/healthz"), undefined, {}, 3);
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const hitRate = (after.hits - before.hits) / Math.max(1, after.hits - before.hits + after.misses - before.misses);
  console.log(`bare Fastify POST route:          ${fmt(avg(bareRuns))} req/s  (rounds ${bareRuns.map(fmt).join(", ")})  p99 ${p99.bare} ms`);
  console.log(`POST /ledger/check (Postgres):    ${fmt(avg(brokerRuns))} req/s  (rounds ${brokerRuns.map(fmt).join(", ")})  p99 ${p99.broker} ms  non-2xx ${non2xx}  cache hit rate ${(hitRate * 100).toFixed(1)}%`);
  console.log(`ratio:                            ${((avg(brokerRuns) / avg(bareRuns)) * 100).toFixed(1)}% of the bare route (target >= 50%)`);
  console.log(`context: GET /healthz broker/bare ${fmt(brokerHealth.rps)} / ${fmt(bareHealth.rps)} req/s = ${((brokerHealth.rps / bareHealth.rps) * 100).toFixed(1)}% (app-wide overhead)`);
  await bare.close();
  await app.close();

  // 3. appends
  const single = await appendRate([ledger], 2);
  const many = Array.from({ length: 8 }, () => createConsentLedger({ db, keys, cache: false }));
  const concurrent = await appendRate(many, 2);
  await Promise.all(many.map((l) => l.close()));
  console.log(`appends, 1 appender (serialized): ${fmt(single)} /s`);
  console.log(`appends, 8 concurrent appenders:  ${fmt(concurrent)} /s (one chain: advisory lock)`);
  const t0 = performance.now();
  const v = await ledger.verify();
  const verifyMs = performance.now() - t0;
  console.log(`chain after the run:              ok=${v.ok}, ${fmt(v.checked)} entries, verify (chain + projection) ${fmt(verifyMs)} ms`);
  await ledger.close();
} finally {
  await db.close();
  await scratch.drop();
}
