// Consent events on a real database (PGlite, or Postgres with DATABASE_URL): SETs made from the
// ledger, pushed over real HTTP to a bank endpoint on loopback, and polled.
import type { ConsentLedger } from "@link-broker/consent-ledger";
import type { Tx } from "@link-broker/db";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAddressPolicy } from "../src/net/address-policy.ts";
import { pushJobId } from "../src/events/events-repo.ts";
import { validateMetadata } from "../src/oauth/clients/validate-metadata.ts";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "./support/app.ts";
import { startEventReceiver } from "./support/event-receiver.ts";
import { basic } from "./support/oauth.ts";
import { createStaff, signIn } from "./support/staff.ts";

const DAY = 86_400_000;
let t = Date.now();
const clock = { now: () => new Date(t) };

let broker: TestBroker;
let ledger: ConsentLedger;
let receiver: Awaited<ReturnType<typeof startEventReceiver>>;
let pushBank: { client_id: string; client_secret: string };
let pollBank: { client_id: string; client_secret: string };

async function register(metadata: Record<string, unknown>) {
  const res = await broker.app.inject({ method: "POST", url: "/connect/register", headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` }, payload: metadata });
  return { status: res.statusCode, body: res.json() };
}

let n = 0;
const grant = (clientId: string, over: Record<string, unknown> = {}) => {
  n++;
  return ledger.grant({ clientId, subject: `customer-${n}`, linkId: `link-${n}`, psid: `psid-${n}`, scopes: ["balance:read", "alerts:fraud"], actor: "customer", ...over });
};

const poll = (bank: { client_id: string; client_secret: string }, body: Record<string, unknown>) =>
  broker.app.inject({ method: "POST", url: "/events/poll", headers: { authorization: basic(bank.client_id, bank.client_secret) }, payload: body });

async function verifySet(set: string, audience: string) {
  const jwks = createLocalJWKSet((await broker.app.inject({ url: "/jwks.json" })).json() as { keys: JWK[] });
  return jwtVerify(set, jwks, { issuer: broker.config.publicUrl, audience, typ: "secevent+jwt", currentDate: clock.now() });
}

beforeAll(async () => {
  receiver = await startEventReceiver();
  broker = await startTestBroker({ deps: { clock } });
  ledger = broker.app.modules.ledger.ledger;
  await ledger.ready();
  const a = await register({ client_name: "Push bank", events_uri: receiver.url });
  expect(a.status).toBe(201);
  expect(a.body.events_uri).toBe(receiver.url);
  pushBank = a.body;
  pollBank = (await register({ client_name: "Poll bank" })).body;
}, 120_000);
afterAll(async () => {
  await broker?.close();
  await receiver?.close();
});

async function until(predicate: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

const eventsOf = (consentId: string) => receiver.unique().filter((r) => r.event.consent_id === consentId);

describe("push (RFC 8935)", () => {
  it("pushes a signed SET for a grant, verifiable with /jwks.json", async () => {
    const g = await grant(pushBank.client_id);
    await receiver.until(() => eventsOf(g.consentId).length === 1);
    const [got] = eventsOf(g.consentId);
    expect(got!.contentType).toBe("application/secevent+jwt");
    const { payload, protectedHeader } = await verifySet(got!.set, pushBank.client_id);
    expect(protectedHeader).toMatchObject({ typ: "secevent+jwt", alg: "ES256" });
    expect(payload).toMatchObject({ iss: broker.config.publicUrl, aud: pushBank.client_id, jti: expect.any(String), iat: expect.any(Number), toe: expect.any(Number) });
    expect((payload.events as Record<string, { pairs: unknown[] }>)["consent.granted"]!.pairs).toHaveLength(2);
    expect(payload.events).toEqual({
      "consent.granted": {
        consent_id: g.consentId,
        link_id: `link-${n}`,
        psid: `psid-${n}`,
        // Exactly the pairs granted: no cross pair such as (balance:read, fraud_alerts).
        pairs: expect.arrayContaining([
          { scope: "balance:read", purpose: "account_servicing" },
          { scope: "alerts:fraud", purpose: "fraud_alerts" },
        ]),
        seq: g.seq,
        expires_at: Math.floor(g.expiresAt.getTime() / 1000),
      },
    });
  });

  it("sends a consent's events in ledger order, the withdrawal with its actor", async () => {
    const g = await grant(pushBank.client_id);
    await ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: new Date(t + 120 * DAY) });
    await ledger.withdraw({ consentId: g.consentId, actor: "compliance", reason: "test" });
    await receiver.until(() => eventsOf(g.consentId).length === 3);
    const got = eventsOf(g.consentId);
    expect(got.map((r) => r.type)).toEqual(["consent.granted", "consent.renewed", "consent.withdrawn"]);
    const seqs = got.map((r) => BigInt(r.event.seq as string));
    expect(seqs).toEqual([...seqs].sort((x, y) => (x < y ? -1 : 1)));
    expect(got[2]!.event.actor).toBe("compliance");
    // Each SET arrived once: nothing to dedupe when the bank answers 202.
    expect(receiver.received.filter((r) => r.event.consent_id === g.consentId)).toHaveLength(3);
  });

  it("retries after the endpoint fails twice, keeps the consent's order, and delivers each jti once to the bank", async () => {
    const runPush = () => broker.app.modules.scheduler.run("events.push");
    receiver.answers.push(500, 500);
    const before = receiver.received.length;
    const g = await grant(pushBank.client_id);
    await receiver.until(() => receiver.received.length === before + 1); // the first attempt: 500
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    // The withdrawal waits behind the grant: nothing of it reaches the bank yet.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.slice(before).map((r) => r.type)).toEqual(["consent.granted"]);
    expect((await broker.app.inject({ url: "/metrics" })).body).toMatch(/broker_events_pending [1-9]/);

    t += 5_001; // backoff 5 s
    await runPush();
    await receiver.until(() => receiver.received.length >= before + 2); // the second: 500
    t += 10_001; // then 10 s
    await runPush();
    await receiver.until(() => eventsOf(g.consentId).length === 2 && receiver.received.length >= before + 4);
    const attempts = receiver.received.slice(before);
    expect(attempts.map((r) => r.type)).toEqual(["consent.granted", "consent.granted", "consent.granted", "consent.withdrawn"]);
    expect(new Set(attempts.slice(0, 3).map((r) => r.jti)).size).toBe(1); // the same SET each time
    expect(eventsOf(g.consentId).map((r) => r.type)).toEqual(["consent.granted", "consent.withdrawn"]);
    // Nothing is sent again once accepted (the broker has recorded the 202s before the clock jumps).
    await until(async () => (await broker.app.modules.events.ofConsent(g.consentId)).every((e) => e.push === "delivered"));
    t += 3_600_000;
    await runPush();
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received.length).toBe(before + 4);
    const metrics = (await broker.app.inject({ url: "/metrics" })).body;
    expect(metrics).toMatch(/broker_events_push_failures_total\{reason="retry"\} [2-9]/);
    expect(metrics).toMatch(/broker_events_pending 0/);
  });

  it("a 400 refusal is not retried; later events go on and the refused one stays pollable", async () => {
    receiver.answers.push(400);
    const g = await grant(pushBank.client_id);
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    await receiver.until(() => eventsOf(g.consentId).length === 2);
    const refused = eventsOf(g.consentId)[0]!;
    await until(async () => (await broker.app.modules.events.ofConsent(g.consentId)).every((e) => e.push !== "pending"));
    const states = await broker.app.modules.events.ofConsent(g.consentId);
    expect(states.map((s) => s.push)).toEqual(["failed", "delivered"]);
    expect(states[0]!.lastError).toContain("invalid_request");
    const res = await poll(pushBank, { returnImmediately: true });
    expect(Object.keys(res.json().sets)).toContain(refused.jti);
    await poll(pushBank, { ack: Object.keys(res.json().sets), returnImmediately: true, maxEvents: 0 });
  });

  it("a collection that fails is tried again on its own: the event arrives with no further append and no scheduled run", async () => {
    // Test brokers run no periodic tasks, so only the collector's own retry can make this event.
    let failing = true;
    const read = ledger.entriesAfter.bind(ledger);
    const spy = vi.spyOn(ledger, "entriesAfter").mockImplementation((...args) => (failing ? Promise.reject(new Error("database unavailable")) : read(...args)));
    try {
      const g = await grant(pushBank.client_id);
      await until(async () => spy.mock.calls.length >= 1); // the wake-up at commit, failed
      await new Promise((r) => setTimeout(r, 300));
      expect(eventsOf(g.consentId)).toHaveLength(0);
      failing = false;
      await receiver.until(() => eventsOf(g.consentId).length === 1);
      expect(eventsOf(g.consentId)[0]!.type).toBe("consent.granted");
    } finally {
      spy.mockRestore();
    }
  });
});

// Statements on separate connections interleaved as they can be under load, forced with a row
// lock held by the test. Postgres only: PGlite runs one statement at a time, so they cannot
// interleave there.
describe.runIf(process.env.DATABASE_URL)("push, concurrent statements (Postgres)", () => {
  /** Holds a row lock (taken by `lock`, a SELECT ... FOR UPDATE) until `unlock` is awaited. */
  async function holdLock(lock: (tx: Tx) => Promise<unknown>) {
    let unlock!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const tx = broker.db.prisma.$transaction(
      async (tx) => {
        await lock(tx);
        locked();
        await new Promise<void>((resolve) => (unlock = resolve));
      },
      { timeout: 30_000 },
    );
    await Promise.race([isLocked, tx]);
    return {
      async unlock() {
        unlock();
        await tx;
      },
    };
  }

  /** Waits until the push job of the consent's `type` event has gone back to wait for the one before it; answers that job's id. */
  async function waitingBehindEarlier(consentId: string, type: string): Promise<string> {
    let id = "";
    await until(async () => {
      const event = (await broker.app.modules.events.ofConsent(consentId)).find((e) => e.type === type);
      if (!event) return false;
      id = pushJobId(event.jti);
      const job = await broker.db.prisma.job.findUnique({ where: { id } });
      return !!job?.lastError?.includes("waiting for the earlier event") && job.lockedUntil === null;
    });
    return id;
  }

  it("an event stored while the one before it is being marked delivered is pushed at once, not left waiting", async () => {
    const events = broker.app.modules.events;
    const g = await grant(pushBank.client_id);
    await until(async () => (await events.ofConsent(g.consentId)).some((e) => e.push === "delivered"));
    // The renewal reaches the bank, which holds its answer.
    const release = receiver.hold();
    await ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: new Date(t + 120 * DAY) });
    await until(async () => eventsOf(g.consentId).length === 2);
    const renewal = eventsOf(g.consentId)[1]!.jti;
    // A lock on the renewal's row makes the broker's "delivered" statement wait, its snapshot
    // already taken, while the withdrawal is stored.
    const lock = await holdLock((tx) => tx.$queryRaw`SELECT 1 FROM "consent_event" WHERE "jti" = ${renewal} FOR UPDATE`);
    try {
      release();
      await until(async () => {
        const [row] = await broker.db.prisma.$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE ${`%SET "push" = 'delivered'%`}`;
        return row!.n > 0;
      });
      // The withdrawal's own push finds the renewal still pending and goes back to wait.
      await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
      await waitingBehindEarlier(g.consentId, "consent.withdrawn");
    } finally {
      await lock.unlock();
    }
    // No scheduled run and a frozen clock: only the delivery of the renewal can send it.
    await receiver.until(() => eventsOf(g.consentId).length === 3, 5_000);
    expect(eventsOf(g.consentId).map((r) => r.type)).toEqual(["consent.granted", "consent.renewed", "consent.withdrawn"]);
  });

  it("an event whose job cannot be claimed at the moment the one before it is settled is pushed once it can be", async () => {
    const release = receiver.hold();
    const g = await grant(pushBank.client_id);
    await receiver.until(() => eventsOf(g.consentId).length === 1);
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    const withdrawalJob = await waitingBehindEarlier(g.consentId, "consent.withdrawn");
    // A lock on the withdrawal's job, as while its last attempt is putting it back: the claim made
    // when the grant is delivered skips the row, which then looks free to anyone reading it.
    const lock = await holdLock((tx) => tx.$queryRaw`SELECT 1 FROM "job" WHERE "id" = ${withdrawalJob} FOR UPDATE`);
    try {
      release();
      await until(async () => (await broker.app.modules.events.ofConsent(g.consentId))[0]!.push === "delivered");
      await new Promise((r) => setTimeout(r, 300)); // the wake-up's first claim has been skipped
    } finally {
      await lock.unlock();
    }
    // No scheduled run and a frozen clock: only that wake-up can send it.
    await receiver.until(() => eventsOf(g.consentId).length === 2, 5_000);
    expect(eventsOf(g.consentId).map((r) => r.type)).toEqual(["consent.granted", "consent.withdrawn"]);
  });
});

describe("poll (RFC 8936)", () => {
  it("answers the bank's events oldest first, again until acknowledged, then the next ones", async () => {
    const consents = [await grant(pollBank.client_id), await grant(pollBank.client_id), await grant(pollBank.client_id)];
    await broker.app.modules.events.collect();
    const first = await poll(pollBank, { maxEvents: 2, returnImmediately: true });
    expect(first.statusCode).toBe(200);
    expect(first.headers["cache-control"]).toBe("no-store");
    const sets = first.json().sets as Record<string, string>;
    expect(Object.keys(sets)).toHaveLength(2);
    expect(first.json().moreAvailable).toBe(true);
    const claims = await Promise.all(Object.values(sets).map(async (s) => (await verifySet(s, pollBank.client_id)).payload as { events: Record<string, { consent_id: string }> }));
    expect(claims.map((c) => c.events["consent.granted"]!.consent_id)).toEqual([consents[0]!.consentId, consents[1]!.consentId]);

    // Not acknowledged: answered again.
    expect(Object.keys((await poll(pollBank, { maxEvents: 2, returnImmediately: true })).json().sets)).toEqual(Object.keys(sets));
    // Acknowledged: the next one, and nothing more.
    const next = (await poll(pollBank, { ack: Object.keys(sets), maxEvents: 2, returnImmediately: true })).json();
    expect(Object.keys(next.sets)).toHaveLength(1);
    expect(next.moreAvailable).toBe(false);
    expect((decodeJwt(Object.values(next.sets)[0] as string) as { events: Record<string, { consent_id: string }> }).events["consent.granted"]!.consent_id).toBe(consents[2]!.consentId);
    // A withdrawal arrives after them; setErrs acknowledges too.
    await ledger.withdraw({ consentId: consents[2]!.consentId, actor: "bank" });
    await broker.app.modules.events.collect();
    const last = (await poll(pollBank, { ack: Object.keys(next.sets), returnImmediately: true })).json();
    const [jti, set] = Object.entries(last.sets as Record<string, string>)[0]!;
    expect((decodeJwt(set) as { events: Record<string, { actor: string }> }).events["consent.withdrawn"]!.actor).toBe("bank");
    expect((await poll(pollBank, { setErrs: { [jti]: { err: "invalid_key", description: "test" } }, returnImmediately: true })).json()).toEqual({ sets: {}, moreAvailable: false });
    const stored = await broker.app.modules.events.ofConsent(consents[2]!.consentId);
    expect(stored[1]!.lastError).toBe("bank: invalid_key: test");
  });

  it("a long poll answers as soon as an event exists", async () => {
    const started = Date.now();
    const pending = poll(pollBank, { maxEvents: 10 });
    await new Promise((r) => setTimeout(r, 300));
    const g = await grant(pollBank.client_id);
    const res = (await pending).json();
    expect(Date.now() - started).toBeLessThan(5_000);
    const types = Object.values(res.sets as Record<string, string>).map((s) => Object.keys((decodeJwt(s) as { events: object }).events)[0]);
    expect(types).toEqual(["consent.granted"]);
    await poll(pollBank, { ack: Object.keys(res.sets), maxEvents: 0 });
    expect(g.consentId).toBeTruthy();
  });

  it("needs client authentication and refuses bad bodies with a 4xx", async () => {
    expect((await broker.app.inject({ method: "POST", url: "/events/poll", payload: {} })).statusCode).toBe(401);
    expect((await poll({ ...pollBank, client_secret: "wrong" }, { returnImmediately: true })).statusCode).toBe(401);
    for (const body of [{ maxEvents: -1 }, { maxEvents: 5000 }, { maxEvents: "many" }, { ack: [""] }, { ack: [{}] }, { nope: 1 }, { setErrs: { a: {} } }]) {
      const res = await poll(pollBank, { returnImmediately: true, ...body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    const form = await broker.app.inject({ method: "POST", url: "/events/poll", headers: { authorization: basic(pollBank.client_id, pollBank.client_secret), "content-type": "application/x-www-form-urlencoded" }, payload: "maxEvents=1" });
    expect(form.statusCode).toBe(415);
  });
});

describe("tenancy", () => {
  it("another bank never sees a bank's events, by push or poll, and cannot acknowledge them", async () => {
    const mine = await grant(pollBank.client_id);
    const theirs = await grant(pushBank.client_id);
    await receiver.until(() => eventsOf(theirs.consentId).length === 1);
    await broker.app.modules.events.collect();
    // The push bank's endpoint got nothing of the poll bank's consent.
    expect(receiver.received.some((r) => r.event.consent_id === mine.consentId)).toBe(false);
    const pollSets = (await poll(pollBank, { returnImmediately: true })).json().sets as Record<string, string>;
    const pollIds = Object.values(pollSets).map((s) => (decodeJwt(s) as { aud: string }).aud);
    expect(pollIds.every((aud) => aud === pollBank.client_id)).toBe(true);
    // The push bank polls: none of the poll bank's events; its ack of them changes nothing.
    const pushSets = (await poll(pushBank, { ack: Object.keys(pollSets), returnImmediately: true })).json().sets as Record<string, string>;
    expect(Object.values(pushSets).some((s) => (decodeJwt(s) as { aud: string }).aud !== pushBank.client_id)).toBe(false);
    expect(Object.keys((await poll(pollBank, { returnImmediately: true })).json().sets)).toEqual(Object.keys(pollSets));
    await poll(pollBank, { ack: Object.keys(pollSets), maxEvents: 0 });
  });
});

describe("expiry (scheduler, fake clock)", () => {
  it("consent.expiring fires once, N days before expiry; consent.expired when the ledger records the expiry", async () => {
    const g = await grant(pushBank.client_id, { expiresAt: new Date(t + 20 * DAY) });
    await receiver.until(() => eventsOf(g.consentId).length === 1);
    const run = (task: string) => broker.app.modules.scheduler.run(task);
    await run("events.expiring");
    expect(eventsOf(g.consentId).map((r) => r.type)).toEqual(["consent.granted"]); // 20 days left: not yet
    t += 7 * DAY; // 13 days left, inside the default 14
    await run("events.expiring");
    await receiver.until(() => eventsOf(g.consentId).length === 2);
    t += DAY;
    await run("events.expiring");
    await new Promise((r) => setTimeout(r, 200));
    expect(eventsOf(g.consentId).map((r) => r.type)).toEqual(["consent.granted", "consent.expiring"]);
    expect(eventsOf(g.consentId)[1]!.event).toMatchObject({ consent_id: g.consentId, expires_at: Math.floor(g.expiresAt.getTime() / 1000) });
    t += 13 * DAY; // past the expiry
    await run("ledger.sweep-expired");
    await receiver.until(() => eventsOf(g.consentId).length === 3);
    expect(eventsOf(g.consentId).map((r) => r.type)).toEqual(["consent.granted", "consent.expiring", "consent.expired"]);
    // 30 days on, the events are purged, and none is made again (once the broker has recorded
    // the last delivery: a row being updated is skipped by the purge).
    await until(async () => (await broker.app.modules.events.ofConsent(g.consentId)).every((e) => e.push === "delivered"));
    t += 31 * DAY;
    await run("events.expiring");
    expect(await broker.app.modules.events.ofConsent(g.consentId)).toEqual([]);
    await run("events.collect");
    await run("events.expiring");
    expect(await broker.app.modules.events.ofConsent(g.consentId)).toEqual([]);
  });
});

describe("compliance console", () => {
  it("shows each event of a consent and how it was delivered", async () => {
    const g = await grant(pushBank.client_id);
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    await until(async () => (await broker.app.modules.events.ofConsent(g.consentId)).every((e) => e.push === "delivered") && eventsOf(g.consentId).length === 2);
    await createStaff(broker.db, "events-auditor@bank.example", "auditor");
    const { cookie } = await signIn(broker.app, "events-auditor@bank.example", { now: clock.now() });
    const page = await broker.app.inject({ url: `/console/consents/${g.consentId}`, headers: { cookie } });
    expect(page.statusCode).toBe(200);
    const section = page.body.slice(page.body.indexOf('data-testid="events"'));
    expect(section).toContain("consent.granted");
    expect(section).toContain("consent.withdrawn");
    expect(section.match(/data-testid="event-state">delivered/g)).toHaveLength(2);
  });
});

describe("registration of events_uri", () => {
  it("takes https, or http on loopback outside production; refuses others and internal addresses", async () => {
    expect((await register({ events_uri: "http://bank.example/events" })).body).toMatchObject({ error: "invalid_client_metadata", error_description: expect.stringContaining("events_uri") });
    expect((await register({ events_uri: "not a url" })).status).toBe(400);
    const policy = createAddressPolicy([]);
    expect(() => validateMetadata({ events_uri: "http://127.0.0.1:9/events" }, true, policy)).toThrow(/events_uri/);
    expect(() => validateMetadata({ events_uri: "https://10.0.0.1/events" }, true, policy)).toThrow(/internal address/);
    expect(validateMetadata({ events_uri: "https://bank.example/events" }, true, policy).eventsUri).toBe("https://bank.example/events");
  });
});
