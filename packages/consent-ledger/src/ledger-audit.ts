/**
 * What `verify` checks, independent of where the ledger comes from (the database or an export
 * file). LEDGER-FORMAT.md ("Verifying") states the same algorithm for auditors.
 *
 * 1. Entries in seq order: each must come after the previous one and link to its hash
 *    (`broken_link`), and its hash must be SHA-256 over prev_hash + its canonical JSON
 *    (`hash_mismatch`).
 * 2. Checkpoints, each when the walk reaches its seq: signed by a ledger key
 *    (`checkpoint_signature`), naming an entry that exists (`missing_entry`) whose hash is the
 *    signed head (`checkpoint_mismatch`).
 * 3. Only when 1 and 2 pass: every consent's state replayed from the chain equals its projection
 *    row (`projection_mismatch`, naming the consent).
 * The first failure stops the walk and is reported with its seq.
 */
import type { KeyObject } from "node:crypto";
import { statusAfter } from "./consent-state.ts";
import { canonicalJson, type ChainEntry, entryHash, GENESIS_HASH } from "./hash-chain.ts";
import type { ScopePurpose } from "./policy.ts";
import { pairsOf } from "./records.ts";
import { CHECKPOINT_TYP, type LedgerKeySet, verifyLedgerJws } from "./ledger-keys.ts";

export const PROBLEMS = ["hash_mismatch", "broken_link", "missing_entry", "checkpoint_signature", "checkpoint_mismatch", "projection_mismatch"] as const;
export type VerifyProblem = (typeof PROBLEMS)[number];

export interface VerifyResult {
  ok: boolean;
  /** Entries read, the bad one included. */
  checked: number;
  /** The last entry that passed (null when none did). */
  headSeq: string | null;
  headHash: string;
  checkpointsVerified: number;
  firstBadSeq: string | null;
  problem: VerifyProblem | null;
  /** With `projection_mismatch`: the consent whose row differs from its chain. */
  consentId?: string;
}

/** A signed checkpoint as stored, exported or anchored. */
export interface CheckpointRecord {
  seq: string;
  headHash: string;
  kid: string;
  jws: string;
}

/** A consent's state as the projection row keeps it (recorded status, not the effective one). */
export interface ProjectedConsent {
  id: string;
  clientId: string;
  subject: string;
  linkId: string | null;
  psid: string | null;
  status: string;
  scopes: string[];
  purposes: string[];
  /** As stored on the row; replayed: the newest entry's (derived for a format 1 entry). */
  pairs: unknown;
  expiresAt: Date;
  grantedAt: Date;
  updatedAt: Date;
  lastSeq: string;
}

/** The projection after `e`, from the projection before it (undefined before the grant). */
export function replayEntry(before: ProjectedConsent | undefined, e: ChainEntry): ProjectedConsent {
  return {
    id: e.consentId,
    clientId: e.clientId,
    subject: e.subject,
    linkId: e.linkId,
    psid: e.psid,
    status: statusAfter(e.action as Parameters<typeof statusAfter>[0]),
    scopes: [...e.scopes],
    purposes: [...e.purposes],
    pairs: pairsOf({ pairs: e.pairs, scopes: [...e.scopes], purposes: [...e.purposes] }) satisfies ScopePurpose[],
    expiresAt: e.expiresAt,
    grantedAt: before?.grantedAt ?? e.recordedAt,
    updatedAt: e.recordedAt,
    lastSeq: e.seq.toString(),
  };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Same pairs in the same order (members compared canonically: jsonb keeps its own key order). */
function samePairs(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}

export function sameProjection(row: ProjectedConsent, replayed: ProjectedConsent): boolean {
  return (
    row.id === replayed.id &&
    row.clientId === replayed.clientId &&
    row.subject === replayed.subject &&
    row.linkId === replayed.linkId &&
    row.psid === replayed.psid &&
    row.status === replayed.status &&
    sameList(row.scopes, replayed.scopes) &&
    sameList(row.purposes, replayed.purposes) &&
    samePairs(row.pairs, replayed.pairs) &&
    row.expiresAt.getTime() === replayed.expiresAt.getTime() &&
    row.grantedAt.getTime() === replayed.grantedAt.getTime() &&
    row.updatedAt.getTime() === replayed.updatedAt.getTime() &&
    row.lastSeq === replayed.lastSeq
  );
}

/**
 * Keeps the first projection mismatch: the one whose consent's newest chain entry (or, for a row
 * with no entries, its claimed last seq) comes first; ties by consent id.
 */
export class ProjectionCheck {
  first: { seq: bigint; consentId: string } | null = null;

  compare(row: ProjectedConsent | undefined, replayed: ProjectedConsent | undefined): void {
    if (row && replayed && sameProjection(row, replayed)) return;
    const r = (replayed ?? row)!;
    this.mismatch(r.id, /^\d{1,20}$/.test(r.lastSeq) ? BigInt(r.lastSeq) : 0n);
  }

  mismatch(consentId: string, seq: bigint): void {
    if (!this.first || seq < this.first.seq || (seq === this.first.seq && consentId < this.first.consentId)) this.first = { seq, consentId };
  }
}

/** Walks entries in seq order together with checkpoints (any order; sorted here). */
export class ChainAudit {
  private prev = GENESIS_HASH;
  private lastSeq: bigint | null = null;
  private readonly checkpoints: CheckpointRecord[];
  private next = 0;
  private readonly keyCache = new Map<string, KeyObject>();
  checked = 0;
  checkpointsVerified = 0;
  failure: { seq: bigint; problem: VerifyProblem; consentId?: string } | null = null;
  /** Set by `trackConsents`: each consent's state replayed from the entries walked. */
  readonly consents: Map<string, ProjectedConsent> | null;

  constructor(
    private readonly keys: LedgerKeySet,
    checkpoints: CheckpointRecord[],
    options: { trackConsents?: boolean } = {},
  ) {
    const seen = new Set<string>();
    this.checkpoints = checkpoints
      .filter((c) => !seen.has(c.jws) && seen.add(c.jws))
      .map((c) => ({ ...c, order: toSeq(c.seq) }))
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    this.consents = options.trackConsents ? new Map() : null;
  }

  private fail(seq: bigint, problem: VerifyProblem): false {
    this.failure = { seq, problem };
    return false;
  }

  /** Is this checkpoint what a ledger key signed? */
  private signed(c: CheckpointRecord): boolean {
    const v = verifyLedgerJws(c.jws, this.keys, CHECKPOINT_TYP, this.keyCache);
    return !!v && v.kid === c.kid && v.payload.seq === c.seq && v.payload.head_hash === c.headHash;
  }

  /** A checkpoint before `seq` (or, at the end, any left) that the walk passed without meeting its entry. */
  private skipped(seq: bigint | null): boolean {
    const c = this.checkpoints[this.next];
    if (!c) return true;
    const at = toSeq(c.seq);
    if (seq !== null && at >= seq) return true;
    return this.fail(at, this.signed(c) ? "missing_entry" : "checkpoint_signature");
  }

  /** false once something failed. */
  push(e: ChainEntry): boolean {
    if (this.failure) return false;
    const seq = typeof e.seq === "bigint" ? e.seq : toSeq(e.seq);
    if (!this.skipped(seq)) return false;
    this.checked++;
    if ((this.lastSeq !== null && seq <= this.lastSeq) || e.prevHash !== this.prev) return this.fail(seq, "broken_link");
    if (hashOf(e) !== e.hash) return this.fail(seq, "hash_mismatch");
    this.prev = e.hash;
    this.lastSeq = seq;
    if (this.consents) this.consents.set(e.consentId, replayEntry(this.consents.get(e.consentId), e));
    for (; this.next < this.checkpoints.length && toSeq(this.checkpoints[this.next]!.seq) === seq; this.next++) {
      const c = this.checkpoints[this.next]!;
      if (!this.signed(c)) return this.fail(seq, "checkpoint_signature");
      if (c.headHash !== e.hash) return this.fail(seq, "checkpoint_mismatch");
      this.checkpointsVerified++;
    }
    return true;
  }

  /** After the last entry: checkpoints beyond it name entries that are missing. */
  end(): boolean {
    if (this.failure) return false;
    return this.skipped(null);
  }

  projectionFailed(check: ProjectionCheck): void {
    if (!this.failure && check.first) this.failure = { seq: check.first.seq, problem: "projection_mismatch", consentId: check.first.consentId };
  }

  result(): VerifyResult {
    const f = this.failure;
    return {
      ok: f === null,
      checked: this.checked,
      headSeq: this.lastSeq === null ? null : this.lastSeq.toString(),
      headHash: this.prev,
      checkpointsVerified: this.checkpointsVerified,
      firstBadSeq: f ? f.seq.toString() : null,
      problem: f ? f.problem : null,
      ...(f?.consentId !== undefined ? { consentId: f.consentId } : {}),
    };
  }
}

/** The entry's hash, or null when its fields cannot be canonicalised (e.g. a date that is not one). */
function hashOf(e: ChainEntry): string | null {
  try {
    return entryHash(e.prevHash, e);
  } catch {
    return null;
  }
}

/** A seq as a bigint; anything that is not a decimal number sorts first, and fails its check. */
function toSeq(s: unknown): bigint {
  return typeof s === "string" && /^\d{1,20}$/.test(s) ? BigInt(s) : -1n;
}
