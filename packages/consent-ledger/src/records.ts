// The package's public shapes of consents and entries, and their wire (snake_case) forms.
import type { Consent, LedgerEntry } from "@link-broker/db";
import { effectiveState, type ConsentState } from "./consent-state.ts";

export interface ConsentRecord {
  id: string;
  clientId: string;
  subject: string;
  linkId: string | null;
  psid: string | null;
  /** The effective state: an active consent past its expiry is `expired`. */
  status: ConsentState;
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

/** An entry as exported (JSONL line, HTTP): snake_case, ISO dates, seq as a string. */
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
    scopes: c.scopes,
    purposes: c.purposes,
    expires_at: c.expiresAt.toISOString(),
    granted_at: c.grantedAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    last_seq: c.lastSeq,
  };
}
