// Consent events benchmark (`pnpm bench events`). Prints figures; asserts nothing.
// 1. withdrawal → consent.withdrawn at a bank's events_uri on loopback: p50/p99 over 100
//    withdrawals, one at a time (from the withdraw call, and from its commit)
// 2. events delivered per second: entries appended while the broker is down, then collected,
//    signed and pushed (one event per consent, so pushes run in parallel)
// Runs the broker as main.ts builds it (scheduler on), on a temporary Postgres database
// (DATABASE_URL's server, default 127.0.0.1:5432), dropped after; `--pglite` uses embedded PGlite.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../apps/broker/src/app.ts";
import { systemClock } from "../apps/broker/src/clock.ts";
import { loadConfig } from "../apps/broker/src/config.ts";
import { createSealer } from "../apps/broker/src/crypto/seal.ts";
import { createBrokerLedger, createBrokerLedgerKeys } from "../apps/broker/src/ledger/ledger-module.ts";
import { createDb, migrate } from "../packages/db/src/index.ts";
import { createScratchDatabase } from "./support/scratch-db.ts";

const pglite = process.argv.includes("--pglite");
const WITHDRAWALS = 100;
const BURST = Number(process.env.EVENTS_BENCH_BURST ?? 2_000);
const base = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";


const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (n: number) => `${n.toFixed(1)} ms`;

// The bank's endpoint: answers 202 and notes when each consent's event types arrived.
const arrivals = new Map<string, number>();
let received = 0;
let onArrival: (() => void) | undefined;
const bank = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const at = performance.now();
    const claims = JSON.parse(Buffer.from(Buffer.concat(chunks).toString().split(".")[1]!, "base64url").toString()) as { events: Record<string, { consent_id: string }> };
    const [type, event] = Object.entries(claims.events)[0]!;
    const key = `${type}:${event.consent_id}`;
    if (!arrivals.has(key)) {
      arrivals.set(key, at);
      received++;
    }
    res.writeHead(202).end();
    onArrival?.();
  });
});
await new Promise<void>((r) => bank.listen(0, "127.0.0.1", r));
const eventsUri = `http://127.0.0.1:${(bank.address() as AddressInfo).port}/events`;
const arrived = (key: string) =>
  new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${key} did not arrive in 30 s`)), 30_000);
    const check = () => {
      const at = arrivals.get(key);
      if (at === undefined) return;
      clearTimeout(timer);
      onArrival = undefined;
      resolve(at);
    };
    onArrival = check;
    check();
  });

const scratch = pglite ? undefined : await createScratchDatabase(base);
const url = scratch?.url ?? "memory://";
const db = await createDb({ url, poolSize: 20 });
try {
  await migrate(db);
  const config = loadConfig(
    { ...(pglite ? {} : { DATABASE_URL: url }), BROKER_MASTER_KEY: randomBytes(32).toString("base64"), BROKER_REGISTRATION_TOKEN: randomBytes(32).toString("base64url"), LOG_LEVEL: "silent", BROKER_OUTBOUND_ALLOWLIST: "127.0.0.0/8" },
    { dataDir: mkdtempSync(join(tmpdir(), "lb-bench-")) },
  );
  await db.prisma.client.create({ data: { id: "bench-bank", name: "Bench bank", registrationTokenHash: "bench", tokenEndpointAuthMethod: "client_secret_basic", eventsUri } });

  // 1. Latency: the broker runs; each withdrawal is awaited at the bank before the next.
  let app = await buildApp({ config, db, logger: false });
  await app.ready();
  const ledger = app.modules.ledger.ledger;
  await ledger.ready();
  const consents: string[] = [];
  for (let i = 0; i < WITHDRAWALS; i++) {
    const g = await ledger.grant({ clientId: "bench-bank", subject: `s${i}`, linkId: `l${i}`, psid: `p${i}`, scopes: ["balance:read"], actor: "customer" });
    consents.push(g.consentId);
    await arrived(`consent.granted:${g.consentId}`);
  }
  const fromCall: number[] = [];
  const fromCommit: number[] = [];
  for (const id of consents) {
    const t0 = performance.now();
    await ledger.withdraw({ consentId: id, actor: "customer" });
    const t1 = performance.now();
    const at = await arrived(`consent.withdrawn:${id}`);
    fromCall.push(at - t0);
    fromCommit.push(at - t1);
  }
  fromCall.sort((a, b) => a - b);
  fromCommit.sort((a, b) => a - b);
  process.stdout.write(`database: ${pglite ? "PGlite (embedded)" : "Postgres"}\n`);
  process.stdout.write(`withdrawal → event at events_uri, ${WITHDRAWALS} withdrawals one at a time:\n`);
  process.stdout.write(`  from the withdraw call: p50 ${ms(pct(fromCall, 50))}, p99 ${ms(pct(fromCall, 99))}, max ${ms(fromCall[fromCall.length - 1]!)}\n`);
  process.stdout.write(`  from its commit:        p50 ${ms(pct(fromCommit, 50))}, p99 ${ms(pct(fromCommit, 99))}, max ${ms(fromCommit[fromCommit.length - 1]!)}\n`);
  await app.close();

  // 2. Throughput: BURST grants appended while the broker is down, then one start collects,
  // signs and pushes them all.
  const keys = createBrokerLedgerKeys({ db, sealer: createSealer(config.masterKey, []), clock: systemClock });
  const offline = createBrokerLedger({ config, db, clock: systemClock, keys });
  for (let i = 0; i < BURST; i++) await offline.grant({ clientId: "bench-bank", subject: `b${i}`, linkId: `bl${i}`, psid: `bp${i}`, scopes: ["balance:read"], actor: "customer" });
  await offline.close();
  const before = received;
  app = await buildApp({ config, db, logger: false });
  await app.ready();
  const start = performance.now();
  const collecting = app.modules.events.collect();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received - before} of ${BURST} events arrived in 120 s`)), 120_000);
    onArrival = () => {
      if (received - before >= BURST) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  const seconds = (performance.now() - start) / 1000;
  await collecting;
  process.stdout.write(`events delivered: ${BURST} in ${seconds.toFixed(2)} s = ${Math.round(BURST / seconds)} events/s (collect + sign + push, one per consent)\n`);
  await app.close();
} finally {
  await db.close();
  bank.close();
  await scratch?.drop();
}
