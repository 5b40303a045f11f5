// The bank bot: Log In button through PAR, code exchange on the `linked` webhook, and a ledger
// check before every read of bank data. Never answers from stale data.
// Every call to the broker goes through @link-broker/client (private_key_jwt + DPoP).
import { type BrokerClient, BrokerUnreachableError, createBrokerClient, pkce } from "@link-broker/client";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { jsonFile } from "../json-store.ts";
import { findBankAccounts, formatEuro } from "./bank-accounts.ts";
import { importKeys } from "./client-keys.ts";
import type { RegistrationManager } from "./registration.ts";

export const BROKER_DOWN = "The bank is not reachable right now (broker down) — try again in a moment.";
export const NO_ACCESS = "I no longer have access to your account. Tap Log In to link it again if you want me to help with it.";

interface LinkedUser {
  sub: string;
  name?: string;
  link_id?: string;
  consent_id?: string;
  scope: string;
  access_token: string;
  refresh_token?: string;
  linked_at: string;
}

export interface BotOptions {
  brokerUrl: string;
  /** Timeout of every call to the broker, so the chat never hangs on a dead broker. */
  timeoutMs: number;
  dataDir: string;
  registration: RegistrationManager;
  now?: () => number;
}

const READS = {
  balance: { scope: "balance:read", purpose: "account_servicing", label: "your balance" },
  fraud: { scope: "alerts:fraud", purpose: "fraud_alerts", label: "your fraud alerts" },
} as const;

/**
 * What the bot asks for: balances are required; fraud alerts, transaction notifications and the
 * support chat are the customer's choice (unticked on the consent page), each for its own purpose.
 */
export const LINK_REQUEST = {
  scope: "balance:read",
  optionalScope: "alerts:fraud transactions:read support:chat",
  purpose: "account_servicing fraud_alerts transaction_notifications customer_support",
} as const;

export const HANDOVER = "I am handing you over to a person at Sandbox Bank. Someone from our support team will answer here shortly.";
export const SUPPORT_NOT_ALLOWED =
  "You did not allow the support chat when you linked your account. To allow it, tap “Change permissions” (or Log In) and tick “Help you in the support chat” on the consent page.";

export function createBot(options: BotOptions) {
  const now = options.now ?? Date.now;
  const links = jsonFile<Record<string, LinkedUser>>(options.dataDir, "links.json", () => ({}));
  const verifiers = jsonFile<Record<string, { verifier: string; created_at: number }>>(options.dataDir, "pkce.json", () => ({}));
  const jwks = createRemoteJWKSet(new URL(`${options.brokerUrl}/jwks.json`), { timeoutDuration: 5000 });
  let current: { clientId: string; broker: BrokerClient } | undefined;

  /** The broker client of the current registration (a new registration gets a new one). */
  async function client(): Promise<BrokerClient> {
    const reg = await options.registration.get();
    if (current?.clientId !== reg.client_id) {
      const keys = await importKeys(reg.keys);
      const broker = createBrokerClient({
        brokerUrl: options.brokerUrl,
        clientId: reg.client_id,
        auth: { method: "private_key_jwt", privateKey: keys.clientKey, ...(keys.kid ? { kid: keys.kid } : {}) },
        dpop: keys.dpop,
        timeoutMs: options.timeoutMs,
        now,
      });
      current = { clientId: reg.client_id, broker };
    }
    return current.broker;
  }

  /** The Log In button's URL: PAR with a fresh PKCE pair kept for this PSID. */
  async function loginUrl(psid: string): Promise<string> {
    const broker = await client();
    const { verifier, challenge } = await pkce();
    const { url } = await broker.pushAuthorizationRequest({ ...LINK_REQUEST, codeChallenge: challenge, consentDurationDays: 90 });
    verifiers.update((v) => {
      v[psid] = { verifier, created_at: now() };
    });
    return url;
  }

  // A bank never trusts a token it cannot verify against the broker's published keys.
  async function readClaims(accessToken: string): Promise<Record<string, unknown>> {
    const { issuer } = await (await client()).metadata();
    const { payload } = await jwtVerify(accessToken, jwks, { issuer, typ: "at+jwt" });
    return payload;
  }

  async function onLinked(psid: string, code: string): Promise<string[]> {
    const pending = verifiers.read()[psid];
    if (!pending) return ["I could not finish linking: please tap Log In again."];
    const tokens = await (await client()).exchangeCode({ code, codeVerifier: pending.verifier });
    verifiers.update((v) => {
      delete v[psid];
    });
    const claims = await readClaims(tokens.access_token);
    const user: LinkedUser = {
      sub: String(claims.sub),
      link_id: claims.link_id as string | undefined,
      consent_id: claims.consent_id as string | undefined,
      scope: tokens.scope ?? String(claims.scope ?? ""),
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      linked_at: new Date(now()).toISOString(),
    };
    links.update((l) => {
      l[psid] = user;
    });
    const linked = "Your bank account is linked. Ask me “what is my balance?” or “any fraud alerts?”.";
    const receipt = await receiptUrl(user.consent_id);
    return receipt ? [linked, `Keep your consent receipt: ${receipt}`] : [linked];
  }

  /** The customer's consent receipt page, told in the chat after linking; linking succeeds without it. */
  async function receiptUrl(consentId: string | undefined): Promise<string | undefined> {
    if (!consentId) return undefined;
    try {
      return (await (await client()).consentReceipt(consentId)).receipt_url;
    } catch {
      return undefined;
    }
  }

  function onUnlinked(psid: string): string[] {
    const had = Boolean(links.read()[psid]);
    links.update((l) => {
      delete l[psid];
    });
    return had ? ["You are logged out. I have forgotten your bank tokens."] : [];
  }

  async function read(psid: string, kind: keyof typeof READS): Promise<string[]> {
    const user = links.read()[psid];
    if (!user) return ["Your bank account is not linked yet. Tap Log In to link it."];
    const what = READS[kind];
    const broker = await client();
    // Asked before every read: a withdrawal anywhere must stop the next answer. The client
    // keeps a ledger:check token of its own for this.
    const check = await broker.checkConsent({ client_id: broker.clientId, psid, scope: what.scope, purpose: what.purpose });
    if (!check.allowed) {
      if (check.reason === "scope_not_granted") return [`You did not allow me to see ${what.label}. Tap Log In to change what I may see.`];
      return [NO_ACCESS];
    }
    const data = findBankAccounts(user.sub);
    if (!data) return ["I could not find your accounts at the bank."];
    if (kind === "balance") {
      return [["Your balance:", ...data.accounts.map((a) => `${a.name}: ${formatEuro(a.balance)}`)].join("\n")];
    }
    return data.fraudAlerts.length ? data.fraudAlerts.map((a) => `Fraud alert: ${a}`) : ["No fraud alerts on your accounts."];
  }

  /** "Talk to a person": a handover only when the customer allowed the support chat. */
  async function handover(psid: string): Promise<string[]> {
    if (!links.read()[psid]) return ["Your bank account is not linked yet. Tap Log In to link it, and tick the support chat if you want to talk to a person here."];
    const check = await checkPair({ psid }, "support:chat", "customer_support");
    if (check.allowed) return [HANDOVER];
    return [check.reason === "scope_not_granted" ? SUPPORT_NOT_ALLOWED : NO_ACCESS];
  }

  /** Asks the ledger whether this bank may use `scope` for `purpose` for a customer (by PSID or bank customer id). */
  async function checkPair(who: { psid: string } | { subject: string }, scope: string, purpose: string) {
    const broker = await client();
    return broker.checkConsent({ client_id: broker.clientId, ...who, scope, purpose });
  }

  /**
   * Consent withdrawn: forget the tokens it gave at once. Matched by consent first: a re-link with
   * other terms withdraws the old consent, and its event may arrive after the new tokens, which
   * must stay.
   */
  function forgetLink(match: { consent_id?: string; link_id?: string; psid?: string }): string[] {
    const gone: string[] = [];
    const matches = (psid: string, user: LinkedUser) => {
      if (match.consent_id && user.consent_id) return user.consent_id === match.consent_id;
      if (match.link_id && user.link_id) return user.link_id === match.link_id;
      return match.psid === psid;
    };
    links.update((l) => {
      for (const [psid, user] of Object.entries(l)) {
        if (matches(psid, user)) {
          delete l[psid];
          gone.push(psid);
        }
      }
    });
    return gone;
  }

  /** Answers one customer message; broker outages become a clear sentence, never a hang. */
  async function onMessage(psid: string, text: string): Promise<string[]> {
    const t = text.toLowerCase();
    try {
      if (/balance/.test(t)) return await read(psid, "balance");
      if (/fraud|alert/.test(t)) return await read(psid, "fraud");
      if (/\b(person|human|agent|someone)\b/.test(t)) return await handover(psid);
    } catch (err) {
      if (err instanceof BrokerUnreachableError) return [BROKER_DOWN];
      return ["Something went wrong at the bank. Please try again."];
    }
    if (/log ?in|link/.test(t)) return ["Tap Log In below to link your bank account."];
    return ["Hi! I am the Sandbox Bank bot. Ask me “what is my balance?”, “any fraud alerts?” or “talk to a person”."];
  }

  return {
    loginUrl,
    onLinked,
    onUnlinked,
    onMessage,
    isLinked: (psid: string) => Boolean(links.read()[psid]),
    /** The PSIDs the bank has a live link for, for one bank customer. */
    linkedPsids: (sub: string) => Object.entries(links.read()).flatMap(([psid, user]) => (user.sub === sub ? [psid] : [])),
    checkPair,
    forgetLink,
    issuer: async () => (await (await client()).metadata()).issuer,
    clientId: async () => (await client()).clientId,
  };
}

export type Bot = ReturnType<typeof createBot>;
