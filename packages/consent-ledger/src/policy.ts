// The consent policy of DESIGN.md, defined once: scopes, purposes, each scope's default purpose,
// durations and the purposes refused everywhere. The broker imports it; purpose limitation is
// enforced here, on grant and on check.
import { invalidPurpose, invalidScope, purposeForbidden } from "./ledger-errors.ts";

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

/** Validated, de-duplicated scopes and purposes; purposes default to each scope's own. */
export function normalizeGrant(scopes: readonly string[], purposes: readonly string[] | undefined): { scopes: CustomerScope[]; purposes: Purpose[] } {
  if (!Array.isArray(scopes) || scopes.length === 0) throw invalidScope("(none)");
  const s = [...new Set(scopes.map(assertScope))].sort();
  const named = purposes && purposes.length > 0 ? purposes.map(assertPurpose) : s.map((x) => DEFAULT_PURPOSE[x]);
  return { scopes: s, purposes: [...new Set(named)].sort() };
}
