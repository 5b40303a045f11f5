/**
 * Consent receipts in the spirit of the Kantara Consent Receipt (v1.1), signed as a compact JWS
 * by the broker's key (so they verify against its JWKS).
 *
 * The subject is pseudonymous: `sub` = base64url(HMAC-SHA256(key, clientId + "\0" + subject))
 * when the ledger has a `subjectKey`, else base64url(SHA-256(clientId + "\0" + subject)). The
 * bank can recompute it for its own customer; the receipt alone does not reveal the bank's
 * customer id (with the keyed form, not even to someone who can guess customer ids).
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import type { ConsentRecord, EntryRecord } from "./records.ts";

export const RECEIPT_TYP = "consent-receipt+jwt";

export function pseudonymousSubject(clientId: string, subject: string, key?: string | Buffer): string {
  const input = `${clientId}\u0000${subject}`;
  return (key ? createHmac("sha256", key).update(input, "utf8") : createHash("sha256").update(input, "utf8")).digest("base64url");
}

export function receiptPayload(input: { consent: ConsentRecord; last: EntryRecord; controllerName: string; issuer?: string; now: Date; subjectKey?: string | Buffer }) {
  const { consent, last, now } = input;
  return {
    version: "KI-CR-v1.1.0",
    receipt_id: randomUUID(),
    iat: Math.floor(now.getTime() / 1000),
    consent_timestamp: Math.floor(consent.grantedAt.getTime() / 1000),
    ...(input.issuer ? { iss: input.issuer } : {}),
    controller: { name: input.controllerName, client_id: consent.clientId },
    sub: pseudonymousSubject(consent.clientId, consent.subject, input.subjectKey),
    consent_id: consent.id,
    status: consent.status,
    scopes: consent.scopes,
    purposes: consent.purposes.map((purpose) => ({ purpose, primary_purpose: true, third_party_disclosure: false })),
    sensitive: false,
    expires_at: consent.expiresAt.toISOString(),
    ledger: { seq: last.seq, hash: last.hash },
  };
}
