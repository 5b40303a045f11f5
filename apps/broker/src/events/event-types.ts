// The consent events a bank hears (DESIGN.md "Consent events") and how each is made from the
// ledger: one event per ledger entry, plus `consent.expiring` from the expiry scan.
import type { ConsentRecord, EntryRecord, ScopePurpose } from "@link-broker/consent-ledger";

/** The JOSE `typ` of a Security Event Token (RFC 8417 §2.3). */
export const SET_TYP = "secevent+jwt";

export const EVENT_TYPES = ["consent.granted", "consent.renewed", "consent.withdrawn", "consent.expired", "consent.expiring"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const BY_ACTION: Record<string, EventType> = { granted: "consent.granted", renewed: "consent.renewed", withdrawn: "consent.withdrawn", expired: "consent.expired" };

/**
 * The (scope, purpose) pairs a ledger record grants: the ledger's own (stored, or derived by its
 * format 1 rule for entries written before pairs), exactly what `check` allows.
 */
export function pairsOf(record: { pairs: ScopePurpose[] }): ScopePurpose[] {
  return record.pairs.map(({ scope, purpose }) => ({ scope, purpose }));
}

/** An event before it is signed: its type, what it is of (made once per key), and its claims. */
export interface EventDraft {
  key: string;
  type: EventType;
  clientId: string;
  consentId: string;
  ledgerSeq: string;
  /** Time of the event (RFC 8417 `toe`). */
  toe: Date;
  body: Record<string, unknown>;
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

function body(r: { consentId: string; linkId: string | null; psid: string | null; pairs: ScopePurpose[]; expiresAt: Date }, seq: string) {
  return { consent_id: r.consentId, link_id: r.linkId, psid: r.psid, pairs: pairsOf(r), seq, expires_at: seconds(r.expiresAt) };
}

/** The event of a ledger entry (every action has one). */
export function eventOfEntry(e: EntryRecord): EventDraft {
  const type = BY_ACTION[e.action];
  if (!type) throw new Error(`no consent event for ledger action ${e.action}`);
  return {
    key: `ledger:${e.seq}`,
    type,
    clientId: e.clientId,
    consentId: e.consentId,
    ledgerSeq: e.seq,
    toe: e.recordedAt,
    body: { ...body(e, e.seq), ...(type === "consent.withdrawn" ? { actor: e.actor } : {}) },
  };
}

/** `consent.expiring` of an active consent: once per consent and expiry (a renewal moves the expiry). */
export function expiringEvent(c: ConsentRecord, now: Date): EventDraft {
  return {
    key: `expiring:${c.id}:${c.expiresAt.getTime()}`,
    type: "consent.expiring",
    clientId: c.clientId,
    consentId: c.id,
    ledgerSeq: c.lastSeq,
    toe: now,
    body: body({ ...c, consentId: c.id }, c.lastSeq),
  };
}

/** The SET's claims (RFC 8417 §2.2): `events` keyed by the event type. */
export function setClaims(d: EventDraft, ctx: { issuer: string; jti: string; iat: Date }) {
  return { iss: ctx.issuer, aud: d.clientId, jti: ctx.jti, iat: seconds(ctx.iat), toe: seconds(d.toe), events: { [d.type]: d.body } };
}
