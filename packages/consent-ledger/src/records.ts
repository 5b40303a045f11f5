// The package's public shapes of consents and entries, and their wire (snake_case) forms.
import type { Consent, LedgerEntry } from "@link-broker/db";
import { effectiveState, type ConsentState } from "./consent-state.ts";
import { legacyPairs, type ScopePurpose } from "./policy.ts";

/** The pairs a row stores (format 2), or null for an entry written before pairs (format 1). */
export function storedPairs(v: unknown): ScopePurpose[] | null {
  return Array.isArray(v) ? (v as ScopePurpose[]) : null;
}

/** A consent's or entry's pairs: as stored, or derived by the format 1 rule. */
export function pairsOf(row: { pairs?: unknown; scopes: string[]; purposes: string[] }): ScopePurpose[] {
  return storedPairs(row.pairs) ?? legacyPairs(row.scopes, row.purposes);
}

export interface ConsentRecord {
  id: string;
  clientId: string;
  subject: string;
  linkId: string | null;
  psid: string | null;
  /** The effective state: an active consent past its expiry is `expired`. */
  status: ConsentState;
  /** What the customer agreed to: exactly these (scope, purpose) pairs. */
  pairs: ScopePurpose[];
  /** The scopes and purposes the pairs span. */
  scopes: string[];
  purposes: string[];
  expiresAt: Date;
  grantedAt: Date;
  updatedAt: Date;
  lastSeq: string;
}

export interface EntryRecord {
  seq: string;
  consentId: string;
  action: string;
  clientId: string;
  subject: string;
  linkId: string | null;
  psid: string | null;
  /** The entry's pairs (derived for a format 1 entry, which stored none). */
  pairs: ScopePurpose[];
  /** 1: written before pairs, hashed without them; 2: `pairs` stored and hashed. */
  format: 1 | 2;
  scopes: string[];
  purposes: string[];
  expiresAt: Date;
  actor: string;
  evidence: unknown;
  recordedAt: Date;
  prevHash: string;
  hash: string;
}

export function toConsentRecord(c: Consent, at: Date): ConsentRecord {
  return {
    id: c.id,
    clientId: c.clientId,
    subject: c.subject,
    linkId: c.linkId,
    psid: c.psid,
    status: effectiveState(c.status, c.expiresAt, at),
    pairs: pairsOf(c),
    scopes: c.scopes,
    purposes: c.purposes,
    expiresAt: c.expiresAt,
    grantedAt: c.grantedAt,
    updatedAt: c.updatedAt,
    lastSeq: c.lastSeq.toString(),
  };
}

export function toEntryRecord(e: LedgerEntry): EntryRecord {
  return {
    seq: e.seq.toString(),
    consentId: e.consentId,
    action: e.action,
    clientId: e.clientId,
    subject: e.subject,
    linkId: e.linkId,
    psid: e.psid,
    pairs: pairsOf(e),
    format: storedPairs(e.pairs) ? 2 : 1,
    scopes: e.scopes,
    purposes: e.purposes,
    expiresAt: e.expiresAt,
    actor: e.actor,
    evidence: e.evidence,
    recordedAt: e.recordedAt,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

/**
 * An entry as exported (JSONL line, HTTP): snake_case, ISO dates, seq as a string. `pairs`
 * appears only on format 2 entries: every member of the line but the hashes is hashed.
 */
export function entryToWire(e: EntryRecord) {
  return {
    seq: e.seq,
    consent_id: e.consentId,
    action: e.action,
    client_id: e.clientId,
    subject: e.subject,
    link_id: e.linkId,
    psid: e.psid,
    scopes: e.scopes,
    purposes: e.purposes,
    ...(e.format === 2 ? { pairs: e.pairs } : {}),
    expires_at: e.expiresAt.toISOString(),
    actor: e.actor,
    evidence: e.evidence,
    recorded_at: e.recordedAt.toISOString(),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}
export type WireEntry = ReturnType<typeof entryToWire>;

export function consentToWire(c: ConsentRecord) {
  return {
    id: c.id,
    client_id: c.clientId,
    subject: c.subject,
    link_id: c.linkId,
    psid: c.psid,
    status: c.status,
    pairs: c.pairs,
    scopes: c.scopes,
    purposes: c.purposes,
    expires_at: c.expiresAt.toISOString(),
    granted_at: c.grantedAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    last_seq: c.lastSeq,
  };
}
