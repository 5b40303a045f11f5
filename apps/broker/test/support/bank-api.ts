import { createHash, createHmac, randomBytes } from "node:crypto";
import type { LinkingEnv } from "./linking-env.ts";
import { basic, postForm } from "./oauth.ts";

/**
 * The bank's side of the broker over real HTTP, authenticated with its registered credentials:
 * PAR, token exchange, refresh, introspection, `/ledger/check`, `/links`, and Messenger webhook
 * deliveries signed with the page's app secret.
 */
export function bankApi(env: LinkingEnv, bank: { client_id: string; client_secret: string; appSecret?: string }) {
  const auth = { authorization: basic(bank.client_id, bank.client_secret) };
  const url = env.brokerUrl;
  let ledgerToken: { token: string; expiresAt: number } | undefined;

  const api = {
    clientId: bank.client_id,
    /** A fresh PKCE pair (S256). */
    pkce() {
      const verifier = randomBytes(32).toString("base64url");
      return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
    },
    async par(fields: Record<string, string>): Promise<string> {
      const res = await postForm(`${url}/par`, { code_challenge_method: "S256", ...fields }, auth);
      if (res.status !== 201) throw new Error(`PAR answered ${res.status}: ${JSON.stringify(res.json)}`);
      return res.json.request_uri as string;
    },
    exchange: (code: string, codeVerifier: string) => postForm(`${url}/oauth/token`, { grant_type: "authorization_code", code, code_verifier: codeVerifier }, auth),
    refresh: (refreshToken: string) => postForm(`${url}/oauth/token`, { grant_type: "refresh_token", refresh_token: refreshToken }, auth),
    async introspect(token: string): Promise<Record<string, unknown>> {
      const res = await postForm(`${url}/oauth/introspect`, { token }, auth);
      if (res.status !== 200) throw new Error(`introspection answered ${res.status}`);
      return res.json;
    },
    /** A `ledger:check` client_credentials token, reused until a minute before it expires on the broker's clock. */
    async ledgerToken(fresh = false): Promise<string> {
      const now = env.clock.now().getTime();
      if (ledgerToken && !fresh && ledgerToken.expiresAt - now > 60_000) return ledgerToken.token;
      const res = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials", scope: "ledger:check" }, auth);
      if (res.status !== 200) throw new Error(`client_credentials answered ${res.status}: ${JSON.stringify(res.json)}`);
      ledgerToken = { token: res.json.access_token as string, expiresAt: now + (res.json.expires_in as number) * 1000 };
      return ledgerToken.token;
    },
    async check(body: Record<string, string>): Promise<{ allowed: boolean; consent_id: string | null; expires_at: string | null; reason: string }> {
      const res = await fetch(`${url}/ledger/check`, {
        method: "POST",
        headers: { authorization: `Bearer ${await api.ledgerToken()}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (res.status !== 200) throw new Error(`/ledger/check answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as never;
    },
    unlink: (linkId: string) => fetch(`${url}/links/${encodeURIComponent(linkId)}`, { method: "DELETE", headers: auth }),
    async links(psid: string): Promise<{ link_id: string; psid: string; subject: string; status: string; consent_id: string | null; unlinked_by: string | null }[]> {
      const res = await fetch(`${url}/links?psid=${encodeURIComponent(psid)}`, { headers: auth });
      if (res.status !== 200) throw new Error(`GET /links answered ${res.status}`);
      return ((await res.json()) as { links: never[] }).links;
    },
    /** Posts a webhook body as Messenger would: X-Hub-Signature-256 over the raw bytes. */
    webhook(body: string, signature = `sha256=${createHmac("sha256", bank.appSecret ?? "").update(body).digest("hex")}`) {
      return fetch(`${url}/messenger/webhook/${bank.client_id}`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signature }, body });
    },
  };
  return api;
}

export type BankApi = ReturnType<typeof bankApi>;

/** A Messenger `account_linking` delivery, spaced as Messenger sends it (the signature covers these bytes). */
export function accountLinkingDelivery(pageId: string, psid: string, status: "linked" | "unlinked", timestamp: number): string {
  return `{"object":"page", "entry":[{"id":"${pageId}","time":${timestamp},"messaging":[{"sender":{"id":"${psid}"},"recipient":{"id":"${pageId}"},"timestamp":${timestamp},"account_linking":{"status":"${status}"}}]}]}`;
}
