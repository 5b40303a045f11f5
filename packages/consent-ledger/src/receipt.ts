/**
 * Consent receipts: the Kantara Consent Receipt v1.1 fields that apply, plus the ledger's own
 * (consent id, status, the (scope, purpose) pairs, the ledger entry it reflects), signed as a compact JWS with the
 * ledger key, so a receipt verifies against /ledger/keys.json for as long as it is kept.
 * LEDGER-FORMAT.md ("Receipts") maps each Kantara field and names those that do not apply.
 *
 * The subject is pseudonymous: `piiPrincipalId` = `sub` = base64url(HMAC-SHA256(key, clientId +
 * "\0" + subject)) when the ledger has a `subjectKey`, else base64url(SHA-256(...)). The bank
 * can recompute it for its own customer; the receipt alone does not reveal the bank's customer id
 * (with the keyed form, not even to someone who can guess customer ids).
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import { PURPOSE_DESCRIPTIONS } from "./policy.ts";
import type { ConsentRecord, EntryRecord } from "./records.ts";

export const RECEIPT_TYP = "consent-receipt+jwt";
export const KANTARA_VERSION = "KI-CR-v1.1.0";

/** What the deployment decides about its receipts. */
export interface ReceiptContext {
  /** Kantara `jurisdiction` (e.g. an ISO 3166 code); "unspecified" when the operator set none. */
  jurisdiction?: string;
  /** Kantara `language` (BCP 47) of the consent page; "en". */
  language?: string;
  /** The customer's readable receipt page for a consent (a capability URL). */
  pageUrl?: (consentId: string) => string;
}

/** Kantara `piiCategory` of the data each scope reaches. */
const SCOPE_PII: Record<string, string> = {
  "balance:read": "Financial: account balances",
  "transactions:read": "Financial: transactions",
  "alerts:fraud": "Financial: fraud alerts",
  "support:chat": "Communications: support messages",
};

export function pseudonymousSubject(clientId: string, subject: string, key?: string | Buffer): string {
  const input = `${clientId}\u0000${subject}`;
  return (key ? createHmac("sha256", key).update(input, "utf8") : createHash("sha256").update(input, "utf8")).digest("base64url");
}

/** How the grant was collected, from its ledger entry (actor and second-factor evidence). */
function collectionMethod(grant: EntryRecord | undefined): string {
  if (grant?.actor !== "customer") return `recorded by the ${grant?.actor ?? "broker"} through the consent ledger API`;
  const ev = (grant.evidence ?? {}) as Record<string, unknown>;
  const factor = typeof ev.second_factor === "string" ? ` and a second factor (${ev.second_factor})` : "";
  return `Messenger account linking: sign-in at the bank${factor}, then explicit opt-in on the consent page`;
}

export interface ReceiptController {
  clientId: string;
  name: string;
  /** The bank's RFC 7591 metadata: policy_uri, contacts, client_uri. */
  metadata: Record<string, unknown>;
}

export function receiptPayload(input: { consent: ConsentRecord; entries: EntryRecord[]; last: EntryRecord; controller: ReceiptController; issuer?: string; now: Date; subjectKey?: string | Buffer; context?: ReceiptContext }) {
  const { consent, last, controller, now } = input;
  const ctx = input.context ?? {};
  const meta = controller.metadata;
  const contacts = Array.isArray(meta.contacts) ? meta.contacts.filter((c): c is string => typeof c === "string") : [];
  const email = contacts.find((c) => /^[^@\s]+@[^@\s]+$/.test(c));
  const url = (v: unknown) => (typeof v === "string" && /^https?:\/\//.test(v) ? v : undefined);
  const receiptId = randomUUID();
  const sub = pseudonymousSubject(consent.clientId, consent.subject, input.subjectKey);
  const grant = input.entries.find((e) => e.action === "granted");
  const termination = `when you unlink or withdraw, or on ${consent.expiresAt.toISOString().slice(0, 10)} at the latest`;
  return {
    ...(input.issuer ? { iss: input.issuer } : {}),
    sub,
    iat: Math.floor(now.getTime() / 1000),
    jti: receiptId,
    // Kantara Consent Receipt v1.1
    version: KANTARA_VERSION,
    jurisdiction: ctx.jurisdiction ?? "unspecified",
    consentTimestamp: Math.floor(consent.grantedAt.getTime() / 1000),
    collectionMethod: collectionMethod(grant),
    consentReceiptID: receiptId,
    language: ctx.language ?? "en",
    piiPrincipalId: sub,
    piiControllers: [
      {
        piiController: controller.name,
        contact: contacts[0] ?? controller.name,
        ...(email ? { email } : {}),
        ...(url(meta.client_uri) ? { piiControllerUrl: url(meta.client_uri) } : {}),
      },
    ],
    ...(url(meta.policy_uri) ? { policyUrl: url(meta.policy_uri) } : {}),
    services: [
      {
        service: `${controller.name} in Messenger`,
        // One purpose per consented purpose, reaching only the data of the scopes paired with it.
        purposes: [...new Set(consent.pairs.map((p) => p.purpose))].map((purpose) => ({
          purpose: (PURPOSE_DESCRIPTIONS as Record<string, string>)[purpose] ?? purpose,
          purposeCategory: [purpose],
          consentType: "EXPLICIT",
          piiCategory: consent.pairs.filter((p) => p.purpose === purpose).map((p) => SCOPE_PII[p.scope] ?? p.scope),
          primaryPurpose: true,
          termination,
          thirdPartyDisclosure: false,
        })),
      },
    ],
    sensitive: false,
    spiCat: [],
    // The ledger's own
    controller: { name: controller.name, client_id: controller.clientId },
    consent_id: consent.id,
    status: consent.status,
    pairs: consent.pairs,
    scopes: consent.scopes,
    purposes: consent.purposes,
    never_used_for: ["advertising", "marketing", "profiling"],
    expires_at: consent.expiresAt.toISOString(),
    ledger: { seq: last.seq, hash: last.hash },
    ...(ctx.pageUrl ? { receipt_url: ctx.pageUrl(consent.id) } : {}),
  };
}
