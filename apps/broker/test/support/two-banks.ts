// Two registered banks on one running broker, and the calls the authorization tests make as
// either of them: real tokens from the broker's own endpoints, real HTTP.
import { createHash, randomUUID } from "node:crypto";
import * as oidc from "openid-client";
import { expect } from "vitest";
import { basic, postForm, registerClient, startRunningBroker, type Registered, type RunningBroker } from "./oauth.ts";
import { insertLink } from "./link-row.ts";

const challengeOf = (v: string) => createHash("sha256").update(v).digest("base64url");

export async function startTwoBanks(scope = "balance:read alerts:fraud ledger:check ledger:audit") {
  const broker = await startRunningBroker();
  const bankA = await registerClient(broker.url, { scope });
  const bankB = await registerClient(broker.url, { scope });
  return { broker, url: broker.url, bankA, bankB };
}

/** The calls, made against whatever broker `current()` gives when they run (set in beforeAll). */
export function bankCalls(current: () => RunningBroker) {
  const url = () => current().url;
  const auth = (c: Registered) => ({ authorization: basic(c.client_id, c.client_secret!) });
  const token = (c: Registered, body: Record<string, string>) => postForm(`${url()}/oauth/token`, body, auth(c));
  const introspect = (c: Registered, t: string) => postForm(`${url()}/oauth/introspect`, { token: t }, auth(c));
  const revoke = (c: Registered, t: string) => postForm(`${url()}/oauth/revoke`, { token: t }, auth(c));
  const serviceToken = async (c: Registered, scope: string) => {
    const res = await token(c, { grant_type: "client_credentials", scope });
    expect(res.status).toBe(200);
    return res.json.access_token as string;
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  /** What the linking flow's approval does: the link, a ledger grant and a code in one transaction. */
  async function approve(c: Registered, subject = `cust-${randomUUID().slice(0, 8)}`) {
    const { db, app } = current();
    const verifier = oidc.randomPKCECodeVerifier();
    const linkId = randomUUID();
    const scopes = ["balance:read"];
    const { code, consentId } = await db.transaction(async (tx) => {
      const { consentId } = await app.modules.ledger.ledger.grant({ clientId: c.client_id, subject, linkId, psid: `psid-${subject}`, scopes, actor: "customer" }, { tx });
      await insertLink(tx, { id: linkId, clientId: c.client_id, subject, psid: `psid-${subject}`, consentId });
      const code = await app.modules.oauth.issueAuthorizationCode(tx, { clientId: c.client_id, linkId, attemptId: randomUUID(), consentId, subject, scopes, codeChallenge: challengeOf(verifier) });
      return { code, consentId };
    });
    return { code, verifier, linkId, consentId, subject };
  }

  /** An approval exchanged for the bank's access and refresh tokens. */
  async function linkedTokens(c: Registered) {
    const a = await approve(c);
    const res = await token(c, { grant_type: "authorization_code", code: a.code, code_verifier: a.verifier });
    expect(res.status).toBe(200);
    return { ...a, access: res.json.access_token as string, refresh: res.json.refresh_token as string };
  }

  return { auth, token, introspect, revoke, serviceToken, bearer, approve, linkedTokens };
}
