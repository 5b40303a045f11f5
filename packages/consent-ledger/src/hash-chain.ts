/**
 * Canonical JSON and the hash chain (LEDGER-FORMAT.md states the same rules for auditors).
 *
 * canonical(entry) = RFC 8785 (JCS) of the object below: keys sorted by UTF-16 code unit order at
 * every level, no whitespace, strings escaped as JSON.stringify does (lone surrogates refused),
 * numbers as ECMAScript writes them; dates become ISO 8601 UTC strings with milliseconds
 * (`2026-01-02T03:04:05.678Z`) and `seq` a decimal string before canonicalisation, absent
 * optional values `null`:
 *   { action, actor, client_id, consent_id, evidence, expires_at, link_id, psid, purposes,
 *     recorded_at, scopes, seq, subject } and, from ledger format 2 on, `pairs`
 * (entries written before consents were (scope, purpose) pairs have none and hash without it).
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
  /** Format 2: the granted (scope, purpose) pairs, as stored. null/absent: a format 1 entry. */
  pairs?: unknown;
  expiresAt: Date;
  actor: string;
  evidence: unknown;
  recordedAt: Date;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** RFC 8785 (JCS); Dates as ISO strings and bigints as decimal strings first. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return JSON.stringify(value.toString());
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("canonical JSON has no non-finite numbers");
    return JSON.stringify(value);
  }
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) throw new TypeError("canonical JSON has no lone surrogates");
    return JSON.stringify(value);
  }
  if (typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
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
    // Hashed as stored (JCS sorts each pair's members); format 1 entries have no such member.
    ...(e.pairs !== null && e.pairs !== undefined ? { pairs: e.pairs } : {}),
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
