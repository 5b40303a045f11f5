// createConsentLedger: the ledger's API. Rules live here and in consent-state.ts / policy.ts;
// storage in ledger-store.ts; the hot-path cache in check-cache.ts.
import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { Consent, Db, TxSql } from "@link-broker/db";
import { decodeProtectedHeader } from "jose";
import { appendCheckpointLine } from "./checkpoint-file.ts";
import { createCheckCache, type CheckCache, type InvalidationSource } from "./check-cache.ts";
import { effectiveState, transition, type ConsentState } from "./consent-state.ts";
import { exportLedger, type ExportFormat } from "./export.ts";
import { canonicalJson } from "./hash-chain.ts";
import { ChainAudit, type CheckpointRecord, type ProjectedConsent, ProjectionCheck, replayEntry, type VerifyResult } from "./ledger-audit.ts";
import { CHECKPOINT_TYP, type LedgerKeys, type LedgerKeySet } from "./ledger-keys.ts";
import { invalidExpiry, invalidRequest, invalidSubject, notActive, unknownConsent } from "./ledger-errors.ts";
import { createLedgerStore, keyOf, keysOf, type ConsentFilters, type LookupKey } from "./ledger-store.ts";
import { assertPurpose, assertScope, comparePairs, DAY_MS, DEFAULT_DURATION_DAYS, DEFAULT_PURPOSE, hasPair, isForbiddenPurpose, MAX_DURATION_DAYS, normalizeGrant, type ScopePurpose } from "./policy.ts";
import { receiptPayload, RECEIPT_TYP, type ReceiptContext } from "./receipt.ts";
import { pairsOf, toConsentRecord, toEntryRecord, type ConsentRecord, type EntryRecord } from "./records.ts";

export interface LedgerClock {
  now(): Date;
}

export const ACTORS = ["customer", "bank", "messenger", "compliance", "system"] as const;
export type Actor = (typeof ACTORS)[number];

export interface GrantInput {
  clientId: string;
  subject: string;
  linkId?: string | null;
  psid?: string | null;
  /** With `purposes`: the pairs are derived (policy.ts pairsFrom). Ignored when `pairs` is given. */
  scopes?: string[];
  /** Defaults to each scope's own purpose. */
  purposes?: string[];
  /** Exactly the (scope, purpose) pairs the customer approved; wins over scopes/purposes. */
  pairs?: ScopePurpose[];
  /** Default: now + 90 days; at most now + 365 days. */
  expiresAt?: Date;
  actor: Actor;
  evidence?: Record<string, unknown>;
  /** Lets the caller pick the id (e.g. to reference it in the same transaction). */
  consentId?: string;
}
export interface GrantResult {
  consentId: string;
  seq: string;
  hash: string;
  pairs: ScopePurpose[];
  scopes: string[];
  purposes: string[];
  expiresAt: Date;
}
export interface WithdrawResult {
  consentId: string;
  /** false when nothing was appended (already withdrawn or expired). */
  changed: boolean;
  state: "withdrawn" | "expired";
  message: string;
  seq?: string;
}
/** How a consent that is no longer active ended. */
export interface ConsentEnd {
  state: "withdrawn" | "expired";
  actor: Actor;
}
export interface RenewInput {
  consentId: string;
  /** Default: now + 90 days; at most now + 365 days. */
  expiresAt?: Date;
  actor: Actor;
  evidence?: Record<string, unknown>;
}
export type CheckReason = "active" | "no_consent" | "withdrawn" | "expired" | "scope_not_granted" | "purpose_forbidden";
export interface CheckResult {
  allowed: boolean;
  consentId: string | null;
  expiresAt: Date | null;
  reason: CheckReason;
}
export interface CheckOptions {
  scope: string;
  /** Default: the scope's own purpose. */
  purpose?: string;
  at?: Date;
}
/** Tenant isolation: with `clientId`, only that bank's consents exist. */
export interface TenantOptions {
  clientId?: string;
}
export interface CheckpointResult {
  seq: string;
  headHash: string;
  kid: string;
  jws: string;
}

export interface ConsentLedgerOptions {
  db: Db;
  /** The ledger signing keys: sign checkpoints and receipts, and list every key ever used. */
  keys: LedgerKeys;
  clock?: LedgerClock;
  /** Keys the receipt's pseudonymous subject (HMAC-SHA256); see receipt.ts. */
  subjectKey?: string | Buffer;
  /** Receipt `iss` (the broker's PUBLIC_URL). */
  issuer?: string;
  /** Receipt fields the deployment decides (jurisdiction, language, page URL). */
  receipts?: ReceiptContext;
  /** LEDGER_CHECKPOINT_FILE: each checkpoint this process signs is also appended here. */
  checkpointFile?: string;
  /** The in-process check cache (default on). */
  cache?: boolean;
  /** Where the cache hears of appends; default the database's notifications (check-cache.ts). */
  invalidations?: InvalidationSource;
}

export type ConsentLedger = ReturnType<typeof createConsentLedger>;

const systemClock: LedgerClock = { now: () => new Date() };
const VERIFY_BATCH = 1_000;
const PROJECTION_BATCH = 500;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Non-empty, bounded, and storable as UTF-8 (a lone surrogate would change on its way to the database). */
function nonEmpty(v: unknown): v is string {
  return typeof v === "string" && v.trim().length > 0 && v.length <= 512 && !LONE_SURROGATE.test(v);
}
function assertActor(actor: unknown): Actor {
  if (!(ACTORS as readonly unknown[]).includes(actor)) throw invalidRequest(`actor must be one of ${ACTORS.join(", ")}`);
  return actor as Actor;
}
function assertEvidence(e: unknown): Record<string, unknown> {
  if (e === undefined) return {};
  if (e === null || typeof e !== "object" || Array.isArray(e)) throw invalidRequest("evidence must be an object");
  try {
    canonicalJson(e);
  } catch {
    throw invalidRequest("evidence must be plain JSON (finite numbers, well-formed strings)");
  }
  return e as Record<string, unknown>;
}

export function createConsentLedger(options: ConsentLedgerOptions) {
  const { db, keys } = options;
  const clock = options.clock ?? systemClock;
  const store = createLedgerStore(db);
  // Listeners told of every committed append (consent events wake on it).
  const appendListeners = new Set<() => void>();
  const cache: CheckCache = createCheckCache(db, {
    enabled: options.cache ?? true,
    ...(options.invalidations ? { source: options.invalidations } : {}),
    onAppend: () => {
      for (const listener of appendListeners) listener();
    },
  });
  const ready = cache.start().catch(() => {});

  function expiryFrom(now: Date, expiresAt: Date | undefined): Date {
    if (expiresAt === undefined) return new Date(now.getTime() + DEFAULT_DURATION_DAYS * DAY_MS);
    if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) throw invalidExpiry("expiresAt must be a date");
    if (expiresAt.getTime() <= now.getTime()) throw invalidExpiry("expiresAt must be in the future");
    if (expiresAt.getTime() > now.getTime() + MAX_DURATION_DAYS * DAY_MS) throw invalidExpiry(`a consent lasts at most ${MAX_DURATION_DAYS} days`);
    return expiresAt;
  }

  async function consentOrThrow(consentId: unknown, tenant?: TenantOptions, tx?: TxSql): Promise<Consent> {
    if (!nonEmpty(consentId)) throw unknownConsent(String(consentId));
    const c = await store.consentById(consentId, tx);
    if (!c || (tenant?.clientId !== undefined && c.clientId !== tenant.clientId)) throw unknownConsent(consentId);
    return c;
  }

  /**
   * Own transactions invalidate this process's cache and wake its listeners at once; other
   * processes hear the NOTIFY (so a wake-up never hangs on the LISTEN connection alone).
   */
  function committed(c: Pick<Consent, "clientId" | "subject" | "linkId" | "psid">) {
    cache.invalidate(keysOf(c));
    for (const listener of appendListeners) listener();
  }

  /** The consents of a key: from the cache without a promise when it holds them (the hot path). */
  function lookup(key: LookupKey): Consent[] | Promise<Consent[]> {
    const k = keyOf(key);
    return cache.get(k) ?? read(key, k);
  }

  async function read(key: LookupKey, k: string): Promise<Consent[]> {
    const epoch = cache.epoch();
    const rows = await store.consentsByKey(key);
    cache.set(k, rows, epoch);
    return rows;
  }

  function parseLookup(who: unknown): LookupKey {
    const w = (who ?? {}) as Record<string, unknown>;
    if (w.linkId !== undefined) {
      if (!nonEmpty(w.linkId)) throw invalidRequest("linkId must be a non-empty string");
      return { linkId: w.linkId };
    }
    if (!nonEmpty(w.clientId)) throw invalidRequest("give linkId, or clientId with subject or psid");
    if (w.subject !== undefined) {
      if (!nonEmpty(w.subject)) throw invalidSubject();
      return { clientId: w.clientId, subject: w.subject };
    }
    if (nonEmpty(w.psid)) return { clientId: w.clientId, psid: w.psid };
    throw invalidRequest("give linkId, or clientId with subject or psid");
  }

  async function expireOne(consentId: string): Promise<boolean> {
    const now = clock.now();
    const changed = await store.withChainLock(undefined, async (tx, head) => {
      const c = await store.consentById(consentId, tx);
      if (!c) return null;
      // The recorded state decides: only a recorded-active consent whose expiry passed is expired.
      if (c.expiresAt.getTime() > now.getTime()) return null;
      if (transition(c.status as ConsentState, "expire").kind !== "append") return null;
      await store.appendLocked(tx, head, { consentId: c.id, action: "expired", clientId: c.clientId, subject: c.subject, linkId: c.linkId, psid: c.psid, scopes: c.scopes, purposes: c.purposes, pairs: pairsOf(c), expiresAt: c.expiresAt, actor: "system", evidence: { reason: "expires_at passed" }, recordedAt: now });
      return c;
    });
    if (changed) committed(changed);
    return !!changed;
  }

  function verifyWith(keySet: LedgerKeySet, extra: CheckpointRecord[]): Promise<VerifyResult> {
    return store.snapshot(async (tx) => {
      const stored = (await store.checkpoints(tx)).map((c) => ({ seq: c.seq.toString(), headHash: c.headHash, kid: c.kid, jws: c.jws }));
      const audit = new ChainAudit(keySet, [...stored, ...extra]);
      for (let after = -1n; ; ) {
        const batch = await store.entriesAfter(after, VERIFY_BATCH, undefined, tx);
        for (const e of batch) if (!audit.push(e)) return audit.result();
        if (batch.length < VERIFY_BATCH) break;
        after = batch[batch.length - 1]!.seq;
      }
      if (!audit.end()) return audit.result();
      // The projection, a batch of consents at a time, against their entries (checked above).
      const check = new ProjectionCheck();
      for (let afterId: string | null = null; ; ) {
        const rows = await store.consentsAfter(tx, afterId, PROJECTION_BATCH);
        const replayed = new Map<string, ProjectedConsent>();
        for (const e of await store.entriesOfConsents(tx, rows.map((r) => r.id))) replayed.set(e.consentId, replayEntry(replayed.get(e.consentId), e));
        for (const r of rows) check.compare({ ...r, lastSeq: r.lastSeq.toString() }, replayed.get(r.id));
        if (rows.length < PROJECTION_BATCH) break;
        afterId = rows[rows.length - 1]!.id;
      }
      const orphan = await store.consentWithoutRow(tx);
      if (orphan) check.mismatch(orphan.consentId, orphan.seq);
      audit.projectionFailed(check);
      return audit.result();
    });
  }

  const ledger = {
    /** Resolves once the invalidation listener is up (checks are correct before; only slower). */
    ready: () => ready,

    async grant(input: GrantInput, opts: { tx?: TxSql } = {}): Promise<GrantResult> {
      const i = (input ?? {}) as GrantInput;
      if (!nonEmpty(i.clientId)) throw invalidRequest("clientId must be a non-empty string");
      if (!nonEmpty(i.subject)) throw invalidSubject();
      if (i.linkId != null && !nonEmpty(i.linkId)) throw invalidRequest("linkId must be a non-empty string");
      if (i.psid != null && !nonEmpty(i.psid)) throw invalidRequest("psid must be a non-empty string");
      const { scopes, purposes, pairs } = normalizeGrant(i.scopes, i.purposes, i.pairs);
      const now = clock.now();
      const expiresAt = expiryFrom(now, i.expiresAt);
      const actor = assertActor(i.actor);
      const evidence = assertEvidence(i.evidence);
      const consentId = i.consentId ?? randomUUID();
      if (!nonEmpty(consentId)) throw invalidRequest("consentId must be a non-empty string");
      const fields = { clientId: i.clientId, subject: i.subject, linkId: i.linkId ?? null, psid: i.psid ?? null };
      const row = await store.withChainLock(opts.tx, async (tx, head) => {
        // A random id cannot collide; a caller-chosen one is checked (else the insert would abort the transaction).
        if (i.consentId !== undefined && (await store.consentById(consentId, tx))) throw invalidRequest(`consent ${consentId} already exists`);
        return store.appendLocked(tx, head, { consentId, action: "granted", ...fields, scopes, purposes, pairs, expiresAt, actor, evidence, recordedAt: now });
      }, { takeSeq: true });
      // In the caller's transaction the NOTIFY invalidates after its commit; a stale "no consent"
      // until then is harmless (it never allows anything).
      if (!opts.tx) committed(fields);
      return { consentId, seq: row.seq.toString(), hash: row.hash, pairs, scopes, purposes, expiresAt };
    },

    async withdraw(input: { consentId: string; actor: Actor; reason?: string; evidence?: Record<string, unknown> }, tenant?: TenantOptions, opts: { tx?: TxSql } = {}): Promise<WithdrawResult> {
      const actor = assertActor(input?.actor);
      const evidence = { ...assertEvidence(input.evidence), ...(input.reason !== undefined ? { reason: String(input.reason) } : {}) };
      await consentOrThrow(input.consentId, tenant, opts.tx);
      const now = clock.now();
      const out = await store.withChainLock(opts.tx, async (tx, head) => {
        const c = await consentOrThrow(input.consentId, tenant, tx);
        const state = effectiveState(c.status, c.expiresAt, now);
        const t = transition(state, "withdraw");
        if (t.kind !== "append") return { c, result: { consentId: c.id, changed: false, state: state as "withdrawn" | "expired", message: `no-op: ${t.reason}` } };
        const row = await store.appendLocked(tx, head, { consentId: c.id, action: "withdrawn", clientId: c.clientId, subject: c.subject, linkId: c.linkId, psid: c.psid, scopes: c.scopes, purposes: c.purposes, pairs: pairsOf(c), expiresAt: c.expiresAt, actor, evidence, recordedAt: now });
        return { c, result: { consentId: c.id, changed: true, state: "withdrawn" as const, message: "withdrawn", seq: row.seq.toString() } };
      });
      if (out.result.changed && !opts.tx) committed(out.c);
      return out.result;
    },

    async renew(input: RenewInput, tenant?: TenantOptions, opts: { tx?: TxSql } = {}): Promise<GrantResult> {
      const actor = assertActor(input?.actor);
      const evidence = assertEvidence(input.evidence);
      const now = clock.now();
      const expiresAt = expiryFrom(now, input.expiresAt);
      await consentOrThrow(input.consentId, tenant, opts.tx);
      const { c, row } = await store.withChainLock(opts.tx, async (tx, head) => {
        const c = await consentOrThrow(input.consentId, tenant, tx);
        const state = effectiveState(c.status, c.expiresAt, now);
        const t = transition(state, "renew");
        if (t.kind !== "append") throw notActive(c.id, state);
        if (expiresAt.getTime() <= c.expiresAt.getTime()) throw invalidExpiry("a renewal must extend the consent beyond its current expiry");
        const row = await store.appendLocked(tx, head, { consentId: c.id, action: "renewed", clientId: c.clientId, subject: c.subject, linkId: c.linkId, psid: c.psid, scopes: c.scopes, purposes: c.purposes, pairs: pairsOf(c), expiresAt, actor, evidence, recordedAt: now });
        return { c, row };
      });
      if (!opts.tx) committed(c);
      return { consentId: c.id, seq: row.seq.toString(), hash: row.hash, pairs: pairsOf(c), scopes: c.scopes, purposes: c.purposes, expiresAt };
    },

    /**
     * A customer consents again to a consent they already hold (re-linking): the same
     * (scope, purpose) pairs with a later expiry renew it; anything else withdraws it (if still active) and
     * grants a new one. Joins the caller's transaction like `grant`.
     */
    async reconsent(input: { consentId: string } & GrantInput, opts: { tx?: TxSql } = {}): Promise<GrantResult> {
      // Decide under the chain lock, from the consent as committed: a concurrent reconsent or
      // withdrawal cannot slip between the read and the append.
      const { current, granted } = await store.withChainLock(opts.tx, async (tx) => {
        const current = await consentOrThrow(input.consentId, { clientId: input.clientId }, tx);
        if (current.subject !== input.subject) throw invalidRequest("a consent can only be given again by the same customer");
        const { pairs } = normalizeGrant(input.scopes, input.purposes, input.pairs);
        const now = clock.now();
        const expiresAt = expiryFrom(now, input.expiresAt);
        const held = pairsOf(current);
        const same = held.length === pairs.length && held.every((p) => pairs.some((q) => comparePairs(p, q) === 0));
        const active = effectiveState(current.status, current.expiresAt, now) === "active";
        if (active && same && expiresAt > current.expiresAt) {
          return { current, granted: await ledger.renew({ consentId: current.id, expiresAt, actor: input.actor, evidence: input.evidence }, undefined, { tx }) };
        }
        if (active) await ledger.withdraw({ consentId: current.id, actor: input.actor, reason: "replaced by a new consent" }, undefined, { tx });
        const { consentId: _previous, ...grantInput } = input;
        return { current, granted: await ledger.grant(grantInput, { tx }) };
      });
      // Inside the caller's transaction its NOTIFY invalidates after commit; on our own, at once.
      if (!opts.tx) {
        committed(current);
        committed({ clientId: input.clientId, subject: input.subject, linkId: input.linkId ?? null, psid: input.psid ?? null });
      }
      return granted;
    },

    /** The hot path: may this service use `scope` for `purpose` for this customer now? */
    async check(who: LookupKey, opts: CheckOptions, tenant?: TenantOptions): Promise<CheckResult> {
      const key = parseLookup(who);
      const scope = assertScope(String(opts?.scope));
      if (opts.purpose !== undefined && isForbiddenPurpose(String(opts.purpose))) return { allowed: false, consentId: null, expiresAt: null, reason: "purpose_forbidden" };
      const purpose = opts.purpose === undefined ? DEFAULT_PURPOSE[scope] : assertPurpose(String(opts.purpose));
      const at = opts.at ?? clock.now();
      if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw invalidRequest("at must be a date");
      const found = lookup(key);
      let rows = found instanceof Promise ? await found : found;
      const clientId = tenant?.clientId;
      // A key by client and subject or PSID holds only that client's consents: no copy to filter.
      if (clientId !== undefined && rows.some((c) => c.clientId !== clientId)) rows = rows.filter((c) => c.clientId === clientId);
      if (rows.length === 0) return { allowed: false, consentId: null, expiresAt: null, reason: "no_consent" };
      const active = rows.filter((c) => effectiveState(c.status, c.expiresAt, at) === "active");
      // Only the exact pair the customer approved: a scope granted for another purpose is not granted for this one.
      const full = active.find((c) => hasPair(pairsOf(c), scope, purpose));
      if (full) return { allowed: true, consentId: full.id, expiresAt: full.expiresAt, reason: "active" };
      if (active[0]) return { allowed: false, consentId: active[0].id, expiresAt: active[0].expiresAt, reason: "scope_not_granted" };
      const newest = rows[0]!;
      const state = effectiveState(newest.status, newest.expiresAt, at);
      return { allowed: false, consentId: newest.id, expiresAt: newest.expiresAt, reason: state === "withdrawn" ? "withdrawn" : "expired" };
    },

    async get(consentId: string, tenant?: TenantOptions): Promise<{ consent: ConsentRecord; entries: EntryRecord[] }> {
      const c = await consentOrThrow(consentId, tenant);
      const entries = await store.entriesOf(c.id);
      return { consent: toConsentRecord(c, clock.now()), entries: entries.map(toEntryRecord) };
    },

    async find(filters: ConsentFilters = {}, tenant?: TenantOptions): Promise<{ items: ConsentRecord[]; nextCursor: string | null }> {
      if (filters.limit !== undefined && (!Number.isInteger(filters.limit) || filters.limit < 1 || filters.limit > 500)) throw invalidRequest("limit must be an integer from 1 to 500");
      if (tenant?.clientId !== undefined) {
        if (filters.clientId !== undefined && filters.clientId !== tenant.clientId) return { items: [], nextCursor: null };
        filters = { ...filters, clientId: tenant.clientId };
      }
      const now = clock.now();
      // `status` filters on the effective state; an active consent past its expiry is expired.
      const dbFilters = { ...filters };
      if (filters.status === "expired" || filters.status === "active") delete dbFilters.status;
      if (!["active", "withdrawn", "expired", undefined].includes(filters.status)) throw invalidRequest("status must be active, withdrawn or expired");
      if (dbFilters.status === undefined && filters.status !== undefined) {
        // Page through until the page is full (rarely more than one round).
        const items: ConsentRecord[] = [];
        let cursor = filters.cursor;
        const limit = filters.limit ?? 50;
        for (;;) {
          const page = await store.findConsents({ ...dbFilters, cursor, limit });
          for (const c of page.items) {
            const r = toConsentRecord(c, now);
            if (r.status === filters.status && items.length < limit) items.push(r);
          }
          cursor = page.nextCursor ?? undefined;
          if (items.length >= limit || !page.nextCursor) return { items, nextCursor: items.length >= limit ? items[items.length - 1]!.id : null };
        }
      }
      const page = await store.findConsents(dbFilters);
      return { items: page.items.map((c) => toConsentRecord(c, now)), nextCursor: page.nextCursor };
    },

    /**
     * Recomputes the chain, checks every signed checkpoint (those stored and `checkpoints`, e.g.
     * from the anchoring file) and the consent projection, on one snapshot; names the first failure.
     */
    async verify(opts: { checkpoints?: CheckpointRecord[] } = {}): Promise<VerifyResult> {
      const result = await verifyWith(await keys.published(), opts.checkpoints ?? []);
      // A ledger key rotated between reading the keys and taking the snapshot can sign a
      // checkpoint the first run did not know the key of: read the keys again and retry once.
      return result.problem === "checkpoint_signature" ? verifyWith(await keys.published(), opts.checkpoints ?? []) : result;
    },

    /** Signs `{ seq, head_hash, iat }` of the current head with the ledger key and records it. */
    async checkpoint(): Promise<CheckpointResult | null> {
      const head = await store.head();
      if (!head) return null;
      const existing = await store.latestCheckpoint();
      if (existing && existing.seq === head.seq) return { seq: existing.seq.toString(), headHash: existing.headHash, kid: existing.kid, jws: existing.jws };
      const now = clock.now();
      const jws = await keys.sign({ seq: head.seq.toString(), head_hash: head.hash, iat: Math.floor(now.getTime() / 1000) }, { typ: CHECKPOINT_TYP });
      const kid = String(decodeProtectedHeader(jws).kid ?? "");
      const cp = { seq: head.seq.toString(), headHash: head.hash, kid, jws };
      const stored = await store.saveCheckpoint({ seq: head.seq, headHash: head.hash, kid, jws, createdAt: now });
      if (!stored) {
        // Another process checkpointed this head first: its signature stands (and it anchored it).
        const winner = (await store.latestCheckpoint())!;
        return { seq: winner.seq.toString(), headHash: winner.headHash, kid: winner.kid, jws: winner.jws };
      }
      if (options.checkpointFile) await appendCheckpointLine(options.checkpointFile, cp);
      return cp;
    },

    /** Every ledger key ever used (GET /ledger/keys.json). */
    publishedKeys: (): Promise<LedgerKeySet> => keys.published(),

    export(options: { format: ExportFormat; from?: Date; to?: Date }): Readable {
      if (options?.format !== "jsonl" && options?.format !== "csv") throw invalidRequest("format must be jsonl or csv");
      return exportLedger(store, options);
    },

    async receipt(consentId: string, tenant?: TenantOptions): Promise<string> {
      const { consent, entries } = await ledger.get(consentId, tenant);
      const last = entries[entries.length - 1]!;
      const controller = await store.controllerOf(consent.clientId);
      const payload = receiptPayload({ consent, entries, last, controller: { clientId: consent.clientId, name: controller?.name ?? consent.clientId, metadata: (controller?.metadata ?? {}) as Record<string, unknown> }, issuer: options.issuer, now: clock.now(), subjectKey: options.subjectKey, context: options.receipts });
      return keys.sign(payload, { typ: RECEIPT_TYP });
    },

    /** Appends `expired` for every lapsed active consent. Idempotent; safe with concurrent sweepers. */
    async sweepExpired(): Promise<number> {
      let count = 0;
      for (;;) {
        const ids = await store.lapsedConsentIds(clock.now(), 200);
        let progressed = 0;
        for (const id of ids) if (await expireOne(id)) progressed++;
        count += progressed;
        if (ids.length < 200 || progressed === 0) return count;
      }
    },

    /** Is this consent active now? (Token refresh and introspection end grants whose consent is not.) */
    async isActive(consentId: string): Promise<boolean> {
      const c = await store.consentById(consentId);
      return !!c && effectiveState(c.status, c.expiresAt, clock.now()) === "active";
    },

    /**
     * Until when a consent is active: its expiry while active now, else undefined (ended, or
     * null or undefined: unknown). For a consent row the caller read itself, with the code or
     * token that names it in one query (the code exchange, the refresh grant): no read of its own.
     */
    activeUntilOf(consent: { status: string; expiresAt: Date } | null | undefined): Date | undefined {
      return consent && effectiveState(consent.status, consent.expiresAt, clock.now()) === "active" ? consent.expiresAt : undefined;
    },

    /**
     * How a consent ended: withdrawn (by the actor of its `withdrawn` entry) or expired (actor
     * `system`); undefined while it is active, or when it is unknown.
     */
    async endOf(consentId: string): Promise<ConsentEnd | undefined> {
      if (!nonEmpty(consentId)) return undefined;
      const c = await store.consentById(consentId);
      if (!c) return undefined;
      const state = effectiveState(c.status, c.expiresAt, clock.now());
      if (state === "active") return undefined;
      if (state === "withdrawn") {
        const withdrawn = (await store.entriesOf(c.id)).findLast((e) => e.action === "withdrawn");
        if (withdrawn && (ACTORS as readonly string[]).includes(withdrawn.actor)) return { state, actor: withdrawn.actor as Actor };
      }
      return { state: state as ConsentEnd["state"], actor: "system" };
    },

    /** The ids among `consentIds` whose consent is no longer active now (one query). */
    inactiveAmong: (consentIds: string[]): Promise<string[]> => store.inactiveAmong(consentIds, clock.now()),

    /** Entries after `afterSeq`, in seq order, at most `limit` (consent events read the ledger by this cursor). */
    async entriesAfter(afterSeq: string, limit: number): Promise<EntryRecord[]> {
      return (await store.entriesAfter(BigInt(afterSeq), Math.min(Math.max(Math.trunc(limit), 1), 1_000))).map(toEntryRecord);
    },

    /** Active consents whose expiry falls in (from, to], by expiry then id, one page after `after`. */
    async expiringBetween(from: Date, to: Date, limit: number, after?: { expiresAt: Date; id: string }): Promise<ConsentRecord[]> {
      const now = clock.now();
      return (await store.expiringBetween(from, to, Math.min(Math.max(Math.trunc(limit), 1), 1_000), after)).map((c) => toConsentRecord(c, now));
    },

    /**
     * Calls `listener` after every committed append this process hears of: its own at commit
     * (those in a caller's transaction through the NOTIFY), other processes' through Postgres
     * NOTIFY while the check cache listens, and once after the LISTEN connection comes back (it
     * may have missed some). A listener may be called more than once for one append. Returns the
     * unsubscribe.
     */
    onAppend(listener: () => void): () => void {
      appendListeners.add(listener);
      return () => appendListeners.delete(listener);
    },

    cacheStats: () => cache.stats(),

    async close(): Promise<void> {
      await ready;
      await cache.close();
    },
  };
  return ledger;
}
