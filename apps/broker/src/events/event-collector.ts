// Makes consent events: one per ledger entry, read by seq cursor, and `consent.expiring` from a
// scan of consents near their expiry. The ledger serializes its appends (one chain lock held to
// commit), so an entry with a higher seq never commits before a lower one and a cursor loses
// nothing; events are stored with the cursor move in one transaction, so a restart resumes where
// the last stored batch ended, and two processes reading the same batch store it once.
import type { ConsentLedger } from "@link-broker/consent-ledger";
import type { Clock } from "../clock.ts";
import { eventOfEntry, expiringEvent, SET_TYP, setClaims, type EventDraft } from "./event-types.ts";
import { newJti, type EventsRepo, type NewEvent } from "./events-repo.ts";

const BATCH = 200;
const DAY_MS = 86_400_000;

export interface CollectorDeps {
  repo: Pick<EventsRepo, "cursor" | "store" | "existingKeys">;
  ledger: Pick<ConsentLedger, "entriesAfter" | "expiringBetween">;
  signer: { sign(payload: Record<string, unknown>, options: { typ: string }): Promise<string> };
  /** Whether the client has an events_uri now (its events are then pushed). */
  pushes(clientId: string): Promise<boolean>;
  clock: Clock;
  issuer: string;
  expiringDays: number;
}

export function createEventCollector(deps: CollectorDeps) {
  const { repo, ledger, signer, clock, issuer } = deps;

  async function sign(drafts: EventDraft[]): Promise<NewEvent[]> {
    const now = clock.now();
    const pushes = new Map<string, boolean>();
    for (const d of drafts) if (!pushes.has(d.clientId)) pushes.set(d.clientId, await deps.pushes(d.clientId));
    return Promise.all(
      drafts.map(async (d) => {
        const jti = newJti();
        const set = await signer.sign(setClaims(d, { issuer, jti, iat: now }), { typ: SET_TYP });
        return { jti, key: d.key, clientId: d.clientId, consentId: d.consentId, type: d.type, ledgerSeq: d.ledgerSeq, set, createdAt: now, push: pushes.get(d.clientId) ? "pending" : "none" } as const;
      }),
    );
  }

  /** One batch of ledger entries after the cursor → events; the stored ones (empty when caught up). */
  async function collectBatch(): Promise<{ stored: NewEvent[]; more: boolean }> {
    const cursor = await repo.cursor();
    const entries = await ledger.entriesAfter(cursor, BATCH);
    if (entries.length === 0) return { stored: [], more: false };
    const events = await sign(entries.map(eventOfEntry));
    const stored = await repo.store(cursor, entries[entries.length - 1]!.seq, events, clock.now());
    // null: another process stored this batch first; read on from where it left the cursor.
    return { stored: stored ?? [], more: stored === null || entries.length === BATCH };
  }

  return {
    /** Reads the ledger up to its head; returns the events stored. */
    async collect(): Promise<NewEvent[]> {
      const all: NewEvent[] = [];
      for (;;) {
        const { stored, more } = await collectBatch();
        all.push(...stored);
        if (!more) return all;
      }
    },

    /**
     * `consent.expiring` for every active consent whose expiry is at most `expiringDays` away,
     * once per consent and expiry. Only consents the cursor has passed, so the event follows the
     * consent's own ledger events.
     */
    async scanExpiring(): Promise<NewEvent[]> {
      const now = clock.now();
      const until = new Date(now.getTime() + deps.expiringDays * DAY_MS);
      const all: NewEvent[] = [];
      for (let after: { expiresAt: Date; id: string } | undefined; ; ) {
        const page = await ledger.expiringBetween(now, until, BATCH, after);
        if (page.length === 0) return all;
        after = { expiresAt: page[page.length - 1]!.expiresAt, id: page[page.length - 1]!.id };
        const cursor = BigInt(await repo.cursor());
        const drafts = page.filter((c) => BigInt(c.lastSeq) <= cursor).map((c) => expiringEvent(c, now));
        const existing = await repo.existingKeys(drafts.map((d) => d.key));
        const events = await sign(drafts.filter((d) => !existing.has(d.key)));
        if (events.length) {
          const expected = cursor.toString();
          const stored = await repo.store(expected, expected, events, clock.now());
          // The cursor moved meanwhile: the next scan makes them (keys keep each one unique).
          if (stored) all.push(...stored);
        }
        if (page.length < BATCH) return all;
      }
    },
  };
}

