// The bank bot: Log In button through PAR, code exchange on the `linked` webhook, and a ledger
// check before every read of bank data. Never answers from stale data.
import { createHash, randomBytes } from "node:crypto";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { jsonFile } from "../json-store.ts";
import { findBankAccounts, formatEuro } from "./bank-accounts.ts";
import { BrokerUnreachableError, type BrokerClient } from "./broker-client.ts";
import { createSigner, type Signer } from "./client-keys.ts";
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
  dataDir: string;
  broker: BrokerClient;
  registration: RegistrationManager;
  now?: () => number;
}

const READS = {
  balance: { scope: "balance:read", purpose: "account_servicing", label: "your balance" },
  fraud: { scope: "alerts:fraud", purpose: "fraud_alerts", label: "your fraud alerts" },
} as const;

export function createBot(options: BotOptions) {
  const now = options.now ?? Date.now;
  const links = jsonFile<Record<string, LinkedUser>>(options.dataDir, "links.json", () => ({}));
  const verifiers = jsonFile<Record<string, { verifier: string; created_at: number }>>(options.dataDir, "pkce.json", () => ({}));
  const jwks = createRemoteJWKSet(new URL(`${options.brokerUrl}/jwks.json`), { timeoutDuration: 5000 });
  let serviceToken: { token: string; expiresAt: number } | undefined;
  let signerFor: { clientId: string; signer: Signer } | undefined;

  async function client() {
    const reg = await options.registration.get();
    if (signerFor?.clientId !== reg.client_id) signerFor = { clientId: reg.client_id, signer: await createSigner(reg.keys) };
    return { clientId: reg.client_id, signer: signerFor.signer };
  }

  /** The Log In button's URL: PAR with a fresh PKCE pair kept for this PSID. */
  async function loginUrl(psid: string): Promise<string> {
    const { clientId, signer } = await client();
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const par = await options.broker.par(signer, clientId, {
      scope: "balance:read alerts:fraud",
      code_challenge: challenge,
      code_challenge_method: "S256",
      consent_duration_days: "90",
    });
    verifiers.update((v) => {
      v[psid] = { verifier, created_at: now() };
    });
    const url = new URL(`${options.brokerUrl}/link`);
    url.searchParams.set("client_id", clientId);
    url.searchParams.set("request_uri", par.request_uri);
    return url.toString();
  }

  // A bank never trusts a token it cannot verify against the broker's published keys.
  async function readClaims(accessToken: string): Promise<Record<string, unknown>> {
    const { payload } = await jwtVerify(accessToken, jwks, { issuer: await options.broker.getIssuer(), typ: "at+jwt" });
    return payload;
  }

  async function onLinked(psid: string, code: string): Promise<string[]> {
    const pending = verifiers.read()[psid];
    if (!pending) return ["I could not finish linking: please tap Log In again."];
    const { clientId, signer } = await client();
    const tokens = await options.broker.token(signer, clientId, {
      grant_type: "authorization_code",
      code,
      code_verifier: pending.verifier,
    });
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
      const { signer } = await client();
      return (await options.broker.ledgerReceipt(signer, await ledgerToken(), consentId)).receipt_url;
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

  async function ledgerToken(): Promise<string> {
    if (serviceToken && serviceToken.expiresAt > now() + 30_000) return serviceToken.token;
    const { clientId, signer } = await client();
    const t = await options.broker.token(signer, clientId, { grant_type: "client_credentials", scope: "ledger:check ledger:audit" });
    serviceToken = { token: t.access_token, expiresAt: now() + (t.expires_in ?? 300) * 1000 };
    return t.access_token;
  }

  async function read(psid: string, kind: keyof typeof READS): Promise<string[]> {
    const user = links.read()[psid];
    if (!user) return ["Your bank account is not linked yet. Tap Log In to link it."];
    const what = READS[kind];
    const { clientId, signer } = await client();
    // Asked before every read: a withdrawal anywhere must stop the next answer.
    const check = await options.broker.ledgerCheck(signer, await ledgerToken(), { client_id: clientId, psid, scope: what.scope, purpose: what.purpose });
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

  /** Answers one customer message; broker outages become a clear sentence, never a hang. */
  async function onMessage(psid: string, text: string): Promise<string[]> {
    const t = text.toLowerCase();
    try {
      if (/balance/.test(t)) return await read(psid, "balance");
      if (/fraud|alert/.test(t)) return await read(psid, "fraud");
    } catch (err) {
      if (err instanceof BrokerUnreachableError) return [BROKER_DOWN];
      return ["Something went wrong at the bank. Please try again."];
    }
    if (/log ?in|link/.test(t)) return ["Tap Log In below to link your bank account."];
    return ["Hi! I am the Sandbox Bank bot. Ask me “what is my balance?” or “any fraud alerts?”."];
  }

  return {
    loginUrl,
    onLinked,
    onUnlinked,
    onMessage,
    isLinked: (psid: string) => Boolean(links.read()[psid]),
    clientId: async () => (await client()).clientId,
  };
}

export type Bot = ReturnType<typeof createBot>;
