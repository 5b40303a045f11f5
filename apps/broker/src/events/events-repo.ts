import { randomUUID } from "node:crypto";
import type { ConsentEvent, Db, Statement } from "@link-broker/db";

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

const CURSOR: Statement = { name: "lb_event_cursor", text: `SELECT "seq"::text AS "seq" FROM "event_cursor" WHERE "name" = $1` };

/**
 * `store` in one statement. `moved` takes the cursor row's lock and moves it only from the
 * expected seq, so a second collector that read the same batch waits for the first, then moves
 * nothing and stores nothing. The row is missing only before the first store (it reads as seq 0,
 * and rows are never deleted), which creates it. Events are inserted in their given order
 * (`position` follows it), skipping keys that have an event, and each pending one gets its push
 * job.
 */
const STORE: Statement = {
  name: "lb_event_store",
  text: `WITH moved AS (
      INSERT INTO "event_cursor" ("name", "seq") VALUES ($1, $3::bigint)
      ON CONFLICT ("name") DO UPDATE SET "seq" = EXCLUDED."seq" WHERE "event_cursor"."seq" = $2::bigint
      RETURNING 1
    ), fresh AS (
      INSERT INTO "consent_event" ("jti", "key", "clientId", "consentId", "type", "ledgerSeq", "set", "createdAt", "push")
      SELECT e."jti", e."key", e."clientId", e."consentId", e."type", e."ledgerSeq", e."set", e."createdAt", e."push"
      FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::timestamp(3)[], $13::text[])
        WITH ORDINALITY AS e("jti", "key", "clientId", "consentId", "type", "ledgerSeq", "set", "createdAt", "push", "n")
      WHERE EXISTS (SELECT 1 FROM moved)
      ORDER BY e."n"
      ON CONFLICT ("key") DO NOTHING
      RETURNING "jti", "push"
    ), jobs AS (
      INSERT INTO "job" ("id", "kind", "payload", "runAt", "createdAt")
      SELECT j."id", $15, jsonb_build_object('jti', f."jti"), $4::timestamp(3), $4::timestamp(3)
      FROM fresh f JOIN unnest($5::text[], $14::text[]) AS j("jti", "id") ON j."jti" = f."jti"
      WHERE f."push" = 'pending'
    )
    SELECT EXISTS (SELECT 1 FROM moved) AS "moved", ARRAY(SELECT "jti" FROM fresh) AS "stored"`,
};

/**
 * The consent events store. Every insert happens under the ledger cursor's row lock (`store`), so
 * events are made by one writer at a time and `position` follows the ledger's order.
 */
export function createEventsRepo(db: Pick<Db, "prisma" | "sql">) {
  const { prisma, sql } = db;

  const nextPending = (e: Pick<ConsentEvent, "consentId" | "clientId" | "position">) =>
    prisma.consentEvent.findFirst({ where: { consentId: e.consentId, clientId: e.clientId, push: "pending", ackedAt: null, position: { gt: e.position } }, orderBy: { position: "asc" }, select: { jti: true } });

  return {
    /** How far the ledger has been read (0 before the first event). */
    async cursor(): Promise<string> {
      const [row] = await sql<{ seq: string }>(CURSOR, [LEDGER_CURSOR]);
      return row?.seq ?? "0";
    },

    /**
     * Stores `events` (with a push job each when pending) and moves the cursor to `cursorTo`, in
     * one transaction, only if the cursor is still at `expected`: two collectors that read the same
     * batch store it once. Events whose key exists are skipped. Returns the stored ones, or null
     * when another writer moved the cursor first.
     */
    async store(expected: string, cursorTo: string, events: NewEvent[], now: Date): Promise<NewEvent[] | null> {
      const col = (of: (e: NewEvent) => string) => events.map(of);
      const [row] = await sql<{ moved: boolean; stored: string[] }>(STORE, [
        LEDGER_CURSOR, expected, cursorTo, now,
        col((e) => e.jti), col((e) => e.key), col((e) => e.clientId), col((e) => e.consentId), col((e) => e.type), col((e) => e.ledgerSeq),
        col((e) => e.set), col((e) => e.createdAt.toISOString()), col((e) => e.push), col((e) => pushJobId(e.jti)), PUSH_JOB_KIND,
      ]);
      if (!row!.moved) return null;
      const stored = new Set(row!.stored);
      return events.filter((e) => stored.has(e.jti));
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

    /**
     * Marks a pending event delivered and answers the next of its consent waiting for push (one
     * round trip, a second when there seems to be none). The statement reads with a snapshot taken
     * before its own commit, so it can miss an event stored meanwhile whose own push saw this one
     * still pending and went back to wait; nothing else would wake that one. Read again after the
     * commit, one side always sees the other.
     */
    async deliveredThenNext(event: Pick<ConsentEvent, "jti" | "consentId" | "clientId" | "position">, now: Date): Promise<string | null> {
      const [next] = await prisma.$queryRaw<{ jti: string }[]>`
        WITH d AS (
          UPDATE "consent_event" SET "push" = 'delivered', "deliveredAt" = ${now}, "lastError" = NULL
          WHERE "jti" = ${event.jti} AND "push" = 'pending'
          RETURNING "consentId", "clientId", "position")
        SELECT n."jti" FROM "consent_event" n, d
        WHERE n."consentId" = d."consentId" AND n."clientId" = d."clientId" AND n."push" = 'pending'
          AND n."ackedAt" IS NULL AND n."position" > d."position"
        ORDER BY n."position" LIMIT 1`;
      return next?.jti ?? (await nextPending(event))?.jti ?? null;
    },

    /** The next event of the same consent waiting for push after this one. */
    nextPending,

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
}

export type EventsRepo = ReturnType<typeof createEventsRepo>;
export const newJti = () => randomUUID();
