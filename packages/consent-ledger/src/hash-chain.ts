/**
 * Canonical JSON and the hash chain (the README's "Hash specification" states the same rules).
 *
 * canonical(entry) = JSON of the object below with keys sorted by UTF-16 code unit order at
 * every level, no whitespace, strings escaped as JSON.stringify does, dates as ISO 8601 UTC
 * strings with milliseconds (`2026-01-02T03:04:05.678Z`), `seq` as a decimal string, absent
 * optional values as `null`:
 *   { action, actor, client_id, consent_id, evidence, expires_at, link_id, psid, purposes,
 *     recorded_at, scopes, seq, subject }
 * hash = lowercase hex SHA-256 of the UTF-8 bytes of (prev_hash + canonical(entry)).
 * The first entry's prev_hash is GENESIS_HASH (64 zeros).
 */
import { createHash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);

export interface HashableEntry {
  seq: bigint | string;
  consentId: string;
  action: string;
  clientId: string;
  subject: string;
  linkId: string | null;
  psid: string | null;
  scopes: readonly string[];
  purposes: readonly string[];
  expiresAt: Date;
  actor: string;
  evidence: unknown;
  recordedAt: Date;
}

/** Sorted keys, no whitespace, Dates as ISO strings, bigints as decimal strings. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return JSON.stringify(value.toString());
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("canonical JSON has no non-finite numbers");
    return JSON.stringify(value);
  }
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  throw new TypeError(`canonical JSON cannot encode ${typeof value}`);
}

/** The object whose canonical JSON is hashed (snake_case, as exported). */
export function hashedFields(e: HashableEntry) {
  return {
    seq: e.seq.toString(),
    consent_id: e.consentId,
    action: e.action,
    client_id: e.clientId,
    subject: e.subject,
    link_id: e.linkId,
    psid: e.psid,
    scopes: [...e.scopes],
    purposes: [...e.purposes],
    expires_at: e.expiresAt,
    actor: e.actor,
    evidence: e.evidence ?? {},
    recorded_at: e.recordedAt,
  };
}

export function entryHash(prevHash: string, e: HashableEntry): string {
  return createHash("sha256")
    .update(prevHash + canonicalJson(hashedFields(e)), "utf8")
    .digest("hex");
}

export interface ChainEntry extends HashableEntry {
  prevHash: string;
  hash: string;
}

/**
 * Walks entries in seq order, carrying the expected prev_hash. Returns the first entry that does
 * not link to its predecessor or whose hash does not match its content.
 */
export class ChainVerifier {
  private prev = GENESIS_HASH;
  private lastSeq: bigint | null = null;
  checked = 0;
  firstBadSeq: bigint | null = null;

  get headHash() {
    return this.prev;
  }

  /** false once a bad entry has been seen. */
  push(e: ChainEntry): boolean {
    if (this.firstBadSeq !== null) return false;
    const seq = BigInt(e.seq);
    this.checked++;
    const ordered = this.lastSeq === null || seq > this.lastSeq;
    if (!ordered || e.prevHash !== this.prev || entryHash(e.prevHash, e) !== e.hash) {
      this.firstBadSeq = seq;
      return false;
    }
    this.prev = e.hash;
    this.lastSeq = seq;
    return true;
  }
}
