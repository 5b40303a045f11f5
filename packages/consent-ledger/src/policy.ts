// The consent policy of DESIGN.md, defined once: scopes, purposes, each scope's default purpose,
// durations and the purposes refused everywhere. The broker imports it; purpose limitation is
// enforced here, on grant and on check.
import { invalidPurpose, invalidRequest, invalidScope, purposeForbidden, unpairedPurpose } from "./ledger-errors.ts";

export const CUSTOMER_SCOPES = ["balance:read", "transactions:read", "alerts:fraud", "support:chat"] as const;
export type CustomerScope = (typeof CUSTOMER_SCOPES)[number];

export const PURPOSES = ["account_servicing", "fraud_alerts", "customer_support", "transaction_notifications"] as const;
export type Purpose = (typeof PURPOSES)[number];

/** Refused everywhere, always. */
export const FORBIDDEN_PURPOSES = ["advertising", "marketing", "profiling"] as const;

/** What each scope lets the bank do, in the customer's words (the consent page). */
export const SCOPE_DESCRIPTIONS: Record<CustomerScope, string> = {
  "balance:read": "See your account balances",
  "transactions:read": "See your recent transactions",
  "alerts:fraud": "Send you fraud alerts",
  "support:chat": "Help you in the support chat",
};

/** Each purpose in the customer's words (the consent page). */
export const PURPOSE_DESCRIPTIONS: Record<Purpose, string> = {
  account_servicing: "Servicing your account",
  fraud_alerts: "Warning you about possible fraud",
  customer_support: "Answering your support questions",
  transaction_notifications: "Telling you about transactions",
};

/** The purpose a scope gets when a request names none. */
export const DEFAULT_PURPOSE: Record<CustomerScope, Purpose> = {
  "balance:read": "account_servicing",
  "transactions:read": "account_servicing",
  "alerts:fraud": "fraud_alerts",
  "support:chat": "customer_support",
};

export const MAX_DURATION_DAYS = 365;
export const DEFAULT_DURATION_DAYS = 90;
export const DAY_MS = 24 * 60 * 60 * 1000;

export const isScope = (s: string): s is CustomerScope => (CUSTOMER_SCOPES as readonly string[]).includes(s);
export const isPurpose = (p: string): p is Purpose => (PURPOSES as readonly string[]).includes(p);
/**
 * The one normalisation of the "never advertising" rule: Unicode-folded (NFKC), lower case,
 * letters only. So "Marketing", "ad-vertising", "PRO_FILING" and "ａｄｖｅｒｔｉｓｉｎｇ" all name a
 * forbidden purpose, wherever they appear.
 */
export const normalizePolicyText = (text: string) => text.normalize("NFKC").toLowerCase().replace(/[^\p{L}]/gu, "");
const FORBIDDEN_STEMS = ["advertis", "marketing", "profiling"];

/** Whether a text names advertising, marketing or profiling anywhere in it (a purpose, a scope, a client's name). */
export const isForbiddenPurpose = (text: string) => {
  const folded = normalizePolicyText(text);
  return FORBIDDEN_STEMS.some((stem) => folded.includes(stem));
};

/** Each scope's own purpose, de-duplicated, in scope order: what a request naming no purpose gets. */
export const defaultPurposes = (scopes: readonly string[]): Purpose[] => [...new Set(scopes.filter(isScope).map((s) => DEFAULT_PURPOSE[s]))];

export function assertScope(scope: string): CustomerScope {
  if (!isScope(scope)) throw invalidScope(scope);
  return scope;
}

export function assertPurpose(purpose: string): Purpose {
  if (isForbiddenPurpose(purpose)) throw purposeForbidden(purpose);
  if (!isPurpose(purpose)) throw invalidPurpose(purpose);
  return purpose;
}

/** One thing the customer agreed to: this scope, for this purpose. A consent is a set of them. */
export interface ScopePurpose {
  scope: string;
  purpose: string;
}

/**
 * The purposes each scope may serve when a request names purposes: a named purpose pairs with
 * every requested scope that may serve it (so `transactions:read` + `transaction_notifications`
 * pair, `balance:read` + `fraud_alerts` never do unless asked for as an explicit pair).
 */
export const SCOPE_PURPOSES: Record<CustomerScope, readonly Purpose[]> = {
  "balance:read": ["account_servicing"],
  "transactions:read": ["account_servicing", "transaction_notifications"],
  "alerts:fraud": ["fraud_alerts"],
  "support:chat": ["customer_support"],
};

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** The one order pairs are stored, hashed and compared in: by scope, then purpose (UTF-16 code units). */
export const comparePairs = (a: ScopePurpose, b: ScopePurpose) => byCodeUnits(a.scope, b.scope) || byCodeUnits(a.purpose, b.purpose);

/** De-duplicated and sorted, each pair as a fresh `{ scope, purpose }`. */
export function sortPairs(pairs: readonly ScopePurpose[]): ScopePurpose[] {
  const seen = new Map<string, ScopePurpose>();
  for (const p of pairs) seen.set(`${p.scope}\u0000${p.purpose}`, { scope: p.scope, purpose: p.purpose });
  return [...seen.values()].sort(comparePairs);
}

/** The scope and purpose sets a set of pairs spans (sorted). */
export function pairSets(pairs: readonly ScopePurpose[]): { scopes: string[]; purposes: string[] } {
  return { scopes: [...new Set(pairs.map((p) => p.scope))].sort(byCodeUnits), purposes: [...new Set(pairs.map((p) => p.purpose))].sort(byCodeUnits) };
}

export const hasPair = (pairs: readonly ScopePurpose[], scope: string, purpose: string) => pairs.some((p) => p.scope === scope && p.purpose === purpose);

/**
 * The pairs of a consent recorded before consents were pairs (ledger format 1, which kept two
 * sets): each scope with its default purpose when that purpose was consented to; a scope whose
 * default purpose was not keeps every consented purpose (what format 1 allowed for it, so nothing
 * is granted that was not). LEDGER-FORMAT.md states this rule; the migration
 * `consent_pairs` and verify-ledger.mjs apply the same one.
 */
export function legacyPairs(scopes: readonly string[], purposes: readonly string[]): ScopePurpose[] {
  const out: ScopePurpose[] = [];
  for (const scope of scopes) {
    const d = isScope(scope) ? DEFAULT_PURPOSE[scope] : undefined;
    if (d !== undefined && purposes.includes(d)) out.push({ scope, purpose: d });
    else for (const purpose of purposes) out.push({ scope, purpose });
  }
  return sortPairs(out);
}

/** A validated pair: a customer scope, and a purpose that is neither forbidden nor unknown. */
export function assertPair(p: unknown): ScopePurpose {
  if (p === null || typeof p !== "object" || Array.isArray(p)) throw invalidRequest("each pair must be an object {scope, purpose}");
  const o = p as Record<string, unknown>;
  return { scope: assertScope(String(o.scope)), purpose: assertPurpose(String(o.purpose)) };
}

/**
 * Pairs from scopes and purposes: no purposes → each scope with its own; named purposes → each
 * scope with every named purpose it may serve (SCOPE_PURPOSES). A scope no named purpose fits,
 * or a named purpose no scope serves, is refused rather than paired with something unasked.
 */
export function pairsFrom(scopes: readonly CustomerScope[], purposes: readonly string[] | undefined): ScopePurpose[] {
  if (!purposes || purposes.length === 0) return sortPairs(scopes.map((scope) => ({ scope, purpose: DEFAULT_PURPOSE[scope] })));
  const named = [...new Set(purposes.map(assertPurpose))];
  const pairs = scopes.flatMap((scope) => named.filter((p) => SCOPE_PURPOSES[scope].includes(p)).map((purpose) => ({ scope, purpose })));
  for (const scope of scopes) if (!pairs.some((p) => p.scope === scope)) throw unpairedPurpose(`none of the named purposes fits ${scope}`);
  for (const purpose of named) if (!pairs.some((p) => p.purpose === purpose)) throw unpairedPurpose(`no requested scope serves ${purpose}`);
  return sortPairs(pairs);
}

/**
 * Validated, de-duplicated pairs, and the scope and purpose sets they span. Explicit `pairs` win;
 * else `pairsFrom(scopes, purposes)`.
 */
export function normalizeGrant(scopes: readonly string[] | undefined, purposes: readonly string[] | undefined, pairs?: readonly unknown[]): { scopes: CustomerScope[]; purposes: Purpose[]; pairs: ScopePurpose[] } {
  let out: ScopePurpose[];
  if (pairs !== undefined) {
    if (!Array.isArray(pairs) || pairs.length === 0) throw invalidScope("(none)");
    out = sortPairs(pairs.map(assertPair));
  } else {
    if (!Array.isArray(scopes) || scopes.length === 0) throw invalidScope("(none)");
    out = pairsFrom([...new Set(scopes.map(assertScope))], purposes);
  }
  const sets = pairSets(out);
  return { scopes: sets.scopes as CustomerScope[], purposes: sets.purposes as Purpose[], pairs: out };
}
