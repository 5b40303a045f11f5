// Consent events survive restarts and several broker processes: entries appended while no broker
// runs become events at the next start, and collectors running at once make each event once.
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { createSealer } from "../src/crypto/seal.ts";
import { createBrokerLedger, createBrokerLedgerKeys } from "../src/ledger/ledger-module.ts";
import { systemClock } from "../src/clock.ts";
import { testConfig } from "./support/app.ts";

let db: TestDb;
const config = testConfig();
const CLIENT = "restart-bank";

beforeAll(async () => {
  db = await createTestDb();
}, 60_000);
afterAll(() => db?.drop());

const start = () => buildTestApp({ config, db, logger: false });
type Sets = Record<string, string>;
const typesAndSeqs = (sets: Sets) => Object.values(sets).map((s) => Object.entries((decodeJwt(s) as { events: Record<string, { seq: string }> }).events)[0]!).map(([type, e]) => `${type}@${e.seq}`);

it("resumes from the cursor after a restart and makes each event once with collectors running at once", async () => {
  const first = await start();
  await first.ready();
  await db.prisma.client.create({ data: { id: CLIENT, name: "Restart bank", registrationTokenHash: "h-restart", tokenEndpointAuthMethod: "client_secret_basic" } });
  const ledger = first.modules.ledger.ledger;
  const g = await ledger.grant({ clientId: CLIENT, subject: "s1", linkId: "l1", psid: "p1", scopes: ["balance:read"], actor: "customer" });
  await first.modules.events.collect();
  await first.close();

  // The broker is down: the ledger goes on (here through the CLI's ledger, as an operator would).
  const keys = createBrokerLedgerKeys({ db, sealer: createSealer(config.masterKey, []), clock: systemClock });
  const offline = createBrokerLedger({ config, db, clock: systemClock, keys });
  await offline.withdraw({ consentId: g.consentId, actor: "compliance" });
  const g2 = await offline.grant({ clientId: CLIENT, subject: "s2", linkId: "l2", psid: "p2", scopes: ["alerts:fraud"], actor: "customer" });
  await offline.close();

  // Two brokers start on the database and collect at the same moment.
  const [a, b] = [await start(), await start()];
  await Promise.all([a.ready(), b.ready()]);
  await Promise.all([a.modules.events.collect(), b.modules.events.collect(), a.modules.events.collect()]);
  const rows = await db.prisma.consentEvent.findMany({ where: { clientId: CLIENT }, orderBy: { position: "asc" } });
  expect(rows.map((r) => `${r.type}@${r.ledgerSeq}`)).toEqual([`consent.granted@${g.seq}`, `consent.withdrawn@${BigInt(g.seq) + 1n}`, `consent.granted@${g2.seq}`]);
  // Nobody polls through HTTP here: the poll bank's view is the unacknowledged events, in order.
  const sets = Object.fromEntries(rows.map((r) => [r.jti, r.set])) as Sets;
  expect(typesAndSeqs(sets)).toEqual(rows.map((r) => `${r.type}@${r.ledgerSeq}`));
  await Promise.all([a.close(), b.close()]);
}, 120_000);
