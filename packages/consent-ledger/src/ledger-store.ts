// The ledger's storage: the only file of this package that uses Prisma.
import type { Consent, Db, LedgerAction, LedgerEntry, Prisma, PrismaClient, Statement, Tx, TxSql } from "@link-broker/db";
import { statusAfter } from "./consent-state.ts";
import { entryHash, GENESIS_HASH } from "./hash-chain.ts";
import type { ScopePurpose } from "./policy.ts";

/** pg_advisory_xact_lock key that serializes appends to the one chain ("ledger" in ASCII). */
export const CHAIN_LOCK_KEY = 0x6c6564676572n;
/** NOTIFY channel carrying `{ consentId, keys }` for each committed append. */
export const INVALIDATION_CHANNEL = "link_broker_ledger";

export type LookupKey = { linkId: string } | { clientId: string; subject: string } | { clientId: string; psid: string };

/** Cache keys a consent answers for; the check cache and NOTIFY payloads use them. */
export function keysOf(c: { clientId: string; subject: string; linkId: string | null; psid: string | null }): string[] {
  const keys = [`s:${c.clientId}:${c.subject}`];
  if (c.linkId) keys.push(`l:${c.linkId}`);
  if (c.psid) keys.push(`p:${c.clientId}:${c.psid}`);
  return keys;
}

export function keyOf(k: LookupKey): string {
  if ("linkId" in k) return `l:${k.linkId}`;
  if ("subject" in k) return `s:${k.clientId}:${k.subject}`;
  return `p:${k.clientId}:${k.psid}`;
}

/** The chain as read under its lock: the newest entry's hash (the genesis when none), and the seq taken for the next append, if one was. */
export interface ChainHead {
  hash: string;
  next: bigint | null;
}

export interface AppendInput {
  consentId: string;
  action: LedgerAction;
  clientId: string;
  subject: string;
  linkId: string | null;
  psid: string | null;
  scopes: string[];
  purposes: string[];
  /** Sorted (policy.ts sortPairs); every new entry stores and hashes them (format 2). */
  pairs: ScopePurpose[];
  expiresAt: Date;
  actor: string;
  evidence: Record<string, unknown>;
  recordedAt: Date;
}

export interface ConsentFilters {
  clientId?: string;
  subject?: string;
  psid?: string;
  linkId?: string;
  status?: string;
  /** Page size (1..500, default 50). */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

// The statements of an append, prepared once per connection (they run in every consent change).
const LOCK_HEAD: Statement = { name: "lb_ledger_lock_head", text: "SELECT head_hash, next_seq::text AS next_seq FROM ledger_lock_head($1::bigint, $2::boolean)" };
const NEXT_SEQ: Statement = { name: "lb_ledger_next_seq", text: "SELECT nextval(pg_get_serial_sequence('ledger_entry', 'seq'))::text AS seq" };
// One statement: the entry, the consent projection (a grant creates it, the others update it) and
// the NOTIFY that Postgres sends at commit. $1..$16 the entry, $17 the consent's status, $18..$19 the NOTIFY.
const ENTRY = `WITH e AS (
      INSERT INTO ledger_entry (seq, "consentId", action, "clientId", subject, "linkId", psid, scopes, purposes, pairs, "expiresAt", actor, evidence, "recordedAt", "prevHash", hash)
      VALUES ($1::bigint, $2, $3::"LedgerAction", $4, $5, $6, $7, $8::text[], $9::text[], $10::jsonb, $11::timestamp(3), $12, $13::jsonb, $14::timestamp(3), $15, $16)
      RETURNING seq)`;
const APPEND_GRANT: Statement = {
  name: "lb_ledger_append_grant",
  text: `${ENTRY}, c AS (
      INSERT INTO consent (id, "clientId", subject, "linkId", psid, status, scopes, purposes, pairs, "expiresAt", "grantedAt", "updatedAt", "lastSeq")
      SELECT $2, $4, $5, $6, $7, $17, $8::text[], $9::text[], $10::jsonb, $11::timestamp(3), $14::timestamp(3), $14::timestamp(3), seq FROM e
      RETURNING id)
    SELECT pg_notify($18, $19) FROM c`,
};
const APPEND_CHANGE: Statement = {
  name: "lb_ledger_append_change",
  text: `${ENTRY}, c AS (
      UPDATE consent SET status = $17, "expiresAt" = $11::timestamp(3), "updatedAt" = $14::timestamp(3), "lastSeq" = e.seq
      FROM e WHERE consent.id = $2
      RETURNING consent.id)
    SELECT pg_notify($18, $19) FROM c`,
};
const CONSENT_BY_ID: Statement = {
  name: "lb_ledger_consent_by_id",
  text: `SELECT id, "clientId", subject, "linkId", psid, status, scopes, purposes, pairs, "expiresAt", "grantedAt", "updatedAt", "lastSeq"::text AS "lastSeq" FROM consent WHERE id = $1`,
};

export type LedgerStore = ReturnType<typeof createLedgerStore>;

/** How long a verify or export may hold its snapshot open. */
export const SNAPSHOT_TIMEOUT_MS = 60 * 60_000;

export function createLedgerStore(db: Db) {
  const prisma: PrismaClient = db.prisma;

  /**
   * Takes the chain lock for the rest of the transaction and reads the head, with the next seq
   * when `takeSeq`, in one round trip: the `ledger_lock_head` function, whose read is a new query
   * and so sees what the previous holder committed. Only a grant, which appends unless it fails,
   * takes the seq here; a caller that may decide not to append (a no-op withdrawal, a refused
   * renewal) takes it when it appends, so deciding not to leaves no gap.
   */
  async function lockChain(tx: TxSql, takeSeq: boolean): Promise<ChainHead> {
    const [row] = await tx<{ head_hash: string | null; next_seq: string | null }>(LOCK_HEAD, [CHAIN_LOCK_KEY.toString(), takeSeq]);
    return { hash: row?.head_hash ?? GENESIS_HASH, next: row?.next_seq == null ? null : BigInt(row.next_seq) };
  }

  /**
   * Appends one entry after `head` inside `tx`, which must hold the chain lock that `head` was
   * read under: hashes, inserts, updates the consent projection and queues the NOTIFY (sent by
   * Postgres at commit, never for a rolled-back append). `head` then names the new entry, so a
   * second append under the same lock follows it.
   */
  async function appendLocked(tx: TxSql, head: ChainHead, input: AppendInput): Promise<{ seq: bigint; hash: string }> {
    const prevHash = head.hash;
    const seq = head.next ?? BigInt((await tx<{ seq: string }>(NEXT_SEQ, []))[0]!.seq);
    const hash = entryHash(prevHash, { ...input, seq });
    const pairs = JSON.stringify(input.pairs);
    // Timestamps travel as ISO strings cast to timestamp(3): UTC, whatever the session time zone.
    const entry = [
      seq.toString(), input.consentId, input.action, input.clientId, input.subject, input.linkId, input.psid, input.scopes, input.purposes, pairs,
      input.expiresAt.toISOString(), input.actor, JSON.stringify(input.evidence), input.recordedAt.toISOString(), prevHash, hash,
      statusAfter(input.action), INVALIDATION_CHANNEL, JSON.stringify({ consentId: input.consentId, keys: keysOf(input) }),
    ];
    await tx(input.action === "granted" ? APPEND_GRANT : APPEND_CHANGE, entry);
    head.hash = hash;
    head.next = null;
    return { seq, hash };
  }

  /**
   * Runs `fn` in `tx` when given, else in a new transaction; the chain lock is taken first and `fn`
   * gets the head. `takeSeq`: `fn` always appends unless it throws, so the next seq comes with the lock.
   */
  async function withChainLock<T>(tx: TxSql | undefined, fn: (tx: TxSql, head: ChainHead) => Promise<T>, { takeSeq = false } = {}): Promise<T> {
    if (tx) return fn(tx, await lockChain(tx, takeSeq));
    return db.transaction(async (t) => fn(t, await lockChain(t, takeSeq)));
  }

  /** A consent read inside a chain-locked transaction (the projection row as Prisma types it). */
  async function consentIn(tx: TxSql, id: string): Promise<Consent | null> {
    const [row] = await tx<Omit<Consent, "lastSeq"> & { lastSeq: string }>(CONSENT_BY_ID, [id]);
    return row ? { ...row, lastSeq: BigInt(row.lastSeq) } : null;
  }

  return {
    withChainLock,
    appendLocked,

    consentById: (id: string, tx?: TxSql): Promise<Consent | null> => (tx ? consentIn(tx, id) : prisma.consent.findUnique({ where: { id } })),

    /** Consents a lookup answers for, newest first. */
    consentsByKey(k: LookupKey): Promise<Consent[]> {
      const where: Prisma.ConsentWhereInput = "linkId" in k ? { linkId: k.linkId } : "subject" in k ? { clientId: k.clientId, subject: k.subject } : { clientId: k.clientId, psid: k.psid };
      return prisma.consent.findMany({ where, orderBy: [{ grantedAt: "desc" }, { lastSeq: "desc" }], take: 50 });
    },

    entriesOf: (consentId: string) => prisma.ledgerEntry.findMany({ where: { consentId }, orderBy: { seq: "asc" } }),

    async findConsents(f: ConsentFilters): Promise<{ items: Consent[]; nextCursor: string | null }> {
      const take = Math.min(Math.max(Math.trunc(f.limit ?? 50), 1), 500);
      const where: Prisma.ConsentWhereInput = {};
      if (f.clientId !== undefined) where.clientId = f.clientId;
      if (f.subject !== undefined) where.subject = f.subject;
      if (f.psid !== undefined) where.psid = f.psid;
      if (f.linkId !== undefined) where.linkId = f.linkId;
      if (f.status !== undefined) where.status = f.status;
      // Cursor = the lastSeq of a consent's *grant* is not stable; page by grant order instead:
      // (grantedAt, id) descending, the cursor naming the last id seen.
      let cursorWhere: Prisma.ConsentWhereInput | undefined;
      if (f.cursor) {
        const last = await prisma.consent.findUnique({ where: { id: f.cursor }, select: { grantedAt: true, id: true } });
        if (last) cursorWhere = { OR: [{ grantedAt: { lt: last.grantedAt } }, { grantedAt: last.grantedAt, id: { lt: last.id } }] };
      }
      const items = await prisma.consent.findMany({
        where: cursorWhere ? { AND: [where, cursorWhere] } : where,
        orderBy: [{ grantedAt: "desc" }, { id: "desc" }],
        take: take + 1,
      });
      const more = items.length > take;
      if (more) items.pop();
      return { items, nextCursor: more ? items[items.length - 1]!.id : null };
    },

    /** Entries with seq > after, in seq order, one batch. */
    entriesAfter(after: bigint, take: number, range?: { from?: Date; to?: Date }, tx?: Tx): Promise<LedgerEntry[]> {
      const where: Prisma.LedgerEntryWhereInput = { seq: { gt: after } };
      if (range?.from || range?.to) where.recordedAt = { ...(range.from ? { gte: range.from } : {}), ...(range.to ? { lt: range.to } : {}) };
      return (tx ?? prisma).ledgerEntry.findMany({ where, orderBy: { seq: "asc" }, take });
    },

    head: () => prisma.ledgerEntry.findFirst({ orderBy: { seq: "desc" }, select: { seq: true, hash: true, recordedAt: true } }),

    /**
     * Runs `fn` on one consistent snapshot of the ledger (REPEATABLE READ, read only), so the
     * chain, its checkpoints and the projection are read as of one moment while appends go on.
     */
    snapshot: <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => prisma.$transaction(fn, { isolationLevel: "RepeatableRead", maxWait: 60_000, timeout: SNAPSHOT_TIMEOUT_MS }),

    /** Consent rows with id > after (id order), one batch. */
    consentsAfter: (tx: Tx, after: string | null, take: number): Promise<Consent[]> =>
      tx.consent.findMany({ ...(after === null ? {} : { where: { id: { gt: after } } }), orderBy: { id: "asc" }, take }),

    /** The entries of these consents, each consent's in seq order. */
    entriesOfConsents: (tx: Tx, ids: string[]): Promise<LedgerEntry[]> => tx.ledgerEntry.findMany({ where: { consentId: { in: ids } }, orderBy: [{ consentId: "asc" }, { seq: "asc" }] }),

    /** A consent that has entries but no projection row (the one whose newest entry is oldest). */
    async consentWithoutRow(tx: Tx): Promise<{ consentId: string; seq: bigint } | null> {
      const [row] = await tx.$queryRaw<{ consentId: string; seq: bigint }[]>`
        SELECT e."consentId", max(e.seq) AS seq FROM ledger_entry e
        WHERE NOT EXISTS (SELECT 1 FROM consent c WHERE c.id = e."consentId")
        GROUP BY e."consentId" ORDER BY seq, e."consentId" LIMIT 1`;
      return row ? { consentId: row.consentId, seq: BigInt(row.seq) } : null;
    },

    lapsedConsentIds: async (at: Date, take: number) =>
      (await prisma.consent.findMany({ where: { status: "active", expiresAt: { lte: at } }, select: { id: true }, orderBy: { expiresAt: "asc" }, take })).map((c) => c.id),

    /** Active consents whose expiry falls in (from, to], by (expiry, id), one page after `after`. */
    expiringBetween: (from: Date, to: Date, take: number, after?: { expiresAt: Date; id: string }): Promise<Consent[]> =>
      prisma.consent.findMany({
        where: { status: "active", expiresAt: { gt: from, lte: to }, ...(after ? { OR: [{ expiresAt: { gt: after.expiresAt } }, { expiresAt: after.expiresAt, id: { gt: after.id } }] } : {}) },
        orderBy: [{ expiresAt: "asc" }, { id: "asc" }],
        take,
      }),

    /** Which of these consents are no longer active at `at` (withdrawn, expired, or past their expiry). */
    inactiveAmong: async (ids: string[], at: Date) =>
      ids.length === 0
        ? []
        : (await prisma.consent.findMany({ where: { id: { in: ids }, OR: [{ status: { not: "active" } }, { expiresAt: { lte: at } }] }, select: { id: true } })).map((c) => c.id),

    clientName: async (clientId: string) => (await prisma.client.findUnique({ where: { id: clientId }, select: { name: true } }))?.name ?? null,

    /** The controller's registered name and RFC 7591 metadata (policy_uri, contacts, client_uri). */
    controllerOf: async (clientId: string) => prisma.client.findUnique({ where: { id: clientId }, select: { name: true, metadata: true } }),

    /** Several processes may checkpoint the same head: the first one's signature stands. true when this one was stored. */
    saveCheckpoint: async (c: { seq: bigint; headHash: string; kid: string; jws: string; createdAt: Date }) => (await prisma.ledgerCheckpoint.createMany({ data: [c], skipDuplicates: true })).count === 1,
    latestCheckpoint: () => prisma.ledgerCheckpoint.findFirst({ orderBy: { seq: "desc" } }),
    checkpoints: (tx?: Tx) => (tx ?? prisma).ledgerCheckpoint.findMany({ orderBy: { seq: "asc" } }),
  };
}
