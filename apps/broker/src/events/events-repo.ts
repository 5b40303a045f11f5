import { randomUUID } from "node:crypto";
import type { ConsentEvent, Db, Tx } from "@link-broker/db";

/** The ledger cursor's row name. */
const LEDGER_CURSOR = "ledger";

/** An event ready to store: signed, with its push state decided. */
export interface NewEvent {
  jti: string;
  key: string;
  clientId: string;
  consentId: string;
  type: string;
  ledgerSeq: string;
  set: string;
  createdAt: Date;
  push: "none" | "pending";
}

export type PushState = "none" | "pending" | "delivered" | "failed";

/** What a push attempt reads of its event. */
export type PushRow = Pick<ConsentEvent, "jti" | "clientId" | "consentId" | "position" | "set" | "push" | "ackedAt" | "createdAt">;

/** The push job of an event: one per event, named after it. */
export const pushJobId = (jti: string) => `event:${jti}`;
export const PUSH_JOB_KIND = "events.push";

/**
 * The consent events store. Every insert happens under the ledger cursor's row lock (`store`), so
 * events are made by one writer at a time and `position` follows the ledger's order.
 */
export function createEventsRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;

  return {
    /** How far the ledger has been read (0 before the first event). */
    async cursor(): Promise<string> {
      const row = await prisma.eventCursor.findUnique({ where: { name: LEDGER_CURSOR } });
      return (row?.seq ?? 0n).toString();
    },

    /**
     * Stores `events` (with a push job each when pending) and moves the cursor to `cursorTo`, in
     * one transaction, only if the cursor is still at `expected`: two collectors that read the same
     * batch store it once. Events whose key exists are skipped. Returns the stored ones, or null
     * when another writer moved the cursor first.
     */
    async store(expected: string, cursorTo: string, events: NewEvent[], now: Date): Promise<NewEvent[] | null> {
      return prisma.$transaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO "event_cursor" ("name", "seq") VALUES (${LEDGER_CURSOR}, 0) ON CONFLICT ("name") DO NOTHING`;
        const [row] = await tx.$queryRaw<{ seq: bigint }[]>`SELECT "seq" FROM "event_cursor" WHERE "name" = ${LEDGER_CURSOR} FOR UPDATE`;
        if (row!.seq.toString() !== expected) return null;
        const stored = await insertNew(tx, events, now);
        if (cursorTo !== expected) await tx.eventCursor.update({ where: { name: LEDGER_CURSOR }, data: { seq: BigInt(cursorTo) } });
        return stored;
      });
    },

    /** Which of these keys already have an event. */
    async existingKeys(keys: string[]): Promise<Set<string>> {
      if (keys.length === 0) return new Set();
      const rows = await prisma.consentEvent.findMany({ where: { key: { in: keys } }, select: { key: true } });
      return new Set(rows.map((r) => r.key));
    },

    /** An event and the earliest event of its consent still waiting for push before it (one round trip). */
    async findForPush(jti: string): Promise<(PushRow & { earlier: string | null }) | null> {
      const [row] = await prisma.$queryRaw<(PushRow & { earlier: string | null })[]>`
        SELECT e."jti", e."clientId", e."consentId", e."position", e."set", e."push", e."ackedAt", e."createdAt",
          (SELECT p."jti" FROM "consent_event" p
            WHERE p."consentId" = e."consentId" AND p."clientId" = e."clientId" AND p."push" = 'pending'
              AND p."ackedAt" IS NULL AND p."position" < e."position"
            ORDER BY p."position" LIMIT 1) AS "earlier"
        FROM "consent_event" e WHERE e."jti" = ${jti}`;
      return row ?? null;
    },

    /** Marks a pending event delivered and answers the next of its consent waiting for push (one round trip). */
    async deliveredThenNext(jti: string, now: Date): Promise<string | null> {
      const [next] = await prisma.$queryRaw<{ jti: string }[]>`
        WITH d AS (
          UPDATE "consent_event" SET "push" = 'delivered', "deliveredAt" = ${now}, "lastError" = NULL
          WHERE "jti" = ${jti} AND "push" = 'pending'
          RETURNING "consentId", "clientId", "position")
        SELECT n."jti" FROM "consent_event" n, d
        WHERE n."consentId" = d."consentId" AND n."clientId" = d."clientId" AND n."push" = 'pending'
          AND n."ackedAt" IS NULL AND n."position" > d."position"
        ORDER BY n."position" LIMIT 1`;
      return next?.jti ?? null;
    },

    /** The next event of the same consent waiting for push after this one. */
    nextPending: (e: Pick<ConsentEvent, "consentId" | "clientId" | "position">) =>
      prisma.consentEvent.findFirst({ where: { consentId: e.consentId, clientId: e.clientId, push: "pending", ackedAt: null, position: { gt: e.position } }, orderBy: { position: "asc" }, select: { jti: true } }),

    async setPush(jti: string, push: PushState, now: Date, error?: string): Promise<void> {
      await prisma.consentEvent.updateMany({
        where: { jti, push: "pending" },
        data: { push, ...(push === "delivered" ? { deliveredAt: now, lastError: null } : {}), ...(error !== undefined ? { lastError: error.slice(0, 500) } : {}) },
      });
    },

    async noteError(jti: string, error: string): Promise<void> {
      await prisma.consentEvent.update({ where: { jti }, data: { lastError: error.slice(0, 500) } });
    },

    /** A client's events not yet acknowledged nor delivered by push, oldest first (poll). */
    unacknowledged: (clientId: string, take: number) =>
      prisma.consentEvent.findMany({ where: { clientId, ackedAt: null, push: { not: "delivered" } }, orderBy: { position: "asc" }, take, select: { jti: true, set: true } }),

    /** Acknowledges these events of this client (others' jtis are ignored); errors as the bank reported them. */
    async acknowledge(clientId: string, jtis: string[], now: Date, errors: Record<string, string> = {}): Promise<number> {
      if (jtis.length === 0) return 0;
      const plain = jtis.filter((j) => errors[j] === undefined);
      let count = 0;
      if (plain.length) count += (await prisma.consentEvent.updateMany({ where: { clientId, jti: { in: plain }, ackedAt: null }, data: { ackedAt: now } })).count;
      for (const [jti, error] of Object.entries(errors)) {
        count += (await prisma.consentEvent.updateMany({ where: { clientId, jti, ackedAt: null }, data: { ackedAt: now, lastError: `bank: ${error}`.slice(0, 500) } })).count;
      }
      return count;
    },

    /** Events waiting for push, and their oldest, for metrics. */
    async pendingStats(): Promise<{ pending: number }> {
      return { pending: await prisma.consentEvent.count({ where: { push: "pending", ackedAt: null } }) };
    },

    /** The events of one consent with their delivery state (console). */
    ofConsent: (consentId: string) =>
      prisma.consentEvent.findMany({ where: { consentId }, orderBy: { position: "asc" }, select: { jti: true, type: true, ledgerSeq: true, createdAt: true, push: true, deliveredAt: true, ackedAt: true, lastError: true } }),

    /**
     * Deletes events made before `before` (at most `limit`), taken or not: a bank that never
     * polls does not grow the table for ever.
     */
    purgeOlderThan: (before: Date, limit: number): Promise<number> =>
      prisma.$executeRaw`
        DELETE FROM "consent_event" WHERE "jti" IN (
          SELECT "jti" FROM "consent_event" WHERE "createdAt" < ${before}
          LIMIT ${limit} FOR UPDATE SKIP LOCKED)`,
  };

  async function insertNew(tx: Tx, events: NewEvent[], now: Date): Promise<NewEvent[]> {
    if (events.length === 0) return [];
    const existing = new Set((await tx.consentEvent.findMany({ where: { key: { in: events.map((e) => e.key) } }, select: { key: true } })).map((r) => r.key));
    const fresh = events.filter((e) => !existing.has(e.key));
    // One by one, in order: `position` is the order of insertion.
    for (const e of fresh) await tx.consentEvent.create({ data: { ...e, ledgerSeq: BigInt(e.ledgerSeq) } });
    const pending = fresh.filter((e) => e.push === "pending");
    if (pending.length) await tx.job.createMany({ data: pending.map((e) => ({ id: pushJobId(e.jti), kind: PUSH_JOB_KIND, payload: { jti: e.jti }, runAt: now, createdAt: now })) });
    return fresh;
  }
}

export type EventsRepo = ReturnType<typeof createEventsRepo>;
export const newJti = () => randomUUID();
