// Attack catalogue, secrecy: an attacker who reads the broker's logs learns no secret. A whole
// journey runs with logging at debug level (registration, PAR, /link with its
// account_linking_token, bank sign-in, TOTP enrolment, consent, code exchange, refresh,
// introspection, revocation, ledger check, webhook, and refused requests carrying secrets), then
// every line is searched for every secret it handled.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountLinkingDelivery, bankApi } from "../support/bank-api.ts";
import { driveLinkFlow, linkUrl, PLAIN_PARAMS } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv } from "../support/linking-env.ts";
import { basic, postForm } from "../support/oauth.ts";

const lines: string[] = [];
let env: LinkingEnv;
beforeAll(async () => {
  env = await startLinkingEnv({ deps: "real", logStream: { write: (line: string) => void lines.push(line) } });
});
afterAll(() => env?.close());

describe("secrecy of the logs", () => {
  it("no token, code, client secret, account_linking_token, TOTP secret or page secret is ever logged", async () => {
    const secrets: Record<string, string> = {};
    const bank = await env.registerBank();
    Object.assign(secrets, { client_secret: bank.client_secret, registration_access_token: bank.registration_access_token, app_secret: bank.appSecret, verify_token: bank.verifyToken, page_access_token: env.graph.pageAccessToken, bank_idp_secret: env.idp.clientSecret });
    const api = bankApi(env, bank);

    const { verifier, challenge } = api.pkce();
    const requestUri = await api.par({ scope: "balance:read", code_challenge: challenge });
    secrets.request_uri = requestUri;
    const flow = await driveLinkFlow(env, { clientId: bank.client_id, psid: "psid-secret", params: { request_uri: requestUri } });
    Object.assign(secrets, { account_linking_token: flow.token, authorization_code: flow.authorizationCode!, totp_secret: flow.totpSecret! });
    const tokens = await api.exchange(flow.authorizationCode!, verifier);
    secrets.access_token = tokens.json.access_token as string;
    const refreshed = await api.refresh(tokens.json.refresh_token as string);
    secrets.refresh_token = tokens.json.refresh_token as string;
    secrets.refresh_token_2 = refreshed.json.refresh_token as string;
    await api.introspect(refreshed.json.access_token as string);
    secrets.ledger_token = await api.ledgerToken();
    await api.check({ client_id: bank.client_id, psid: "psid-secret", scope: "balance:read" });

    // Refused requests that carry secrets in every place a log line could pick them up.
    await postForm(`${env.brokerUrl}/oauth/token`, { grant_type: "authorization_code", code: flow.authorizationCode!, code_verifier: verifier }, { authorization: basic(bank.client_id, bank.client_secret) });
    await postForm(`${env.brokerUrl}/oauth/token`, { grant_type: "client_credentials", client_secret: bank.client_secret }, {});
    await postForm(`${env.brokerUrl}/oauth/introspect`, { token: secrets.access_token }, { authorization: basic(bank.client_id, `${bank.client_secret}x`) });
    await fetch(linkUrl(env, { client_id: bank.client_id, ...PLAIN_PARAMS, account_linking_token: flow.token, redirect_uri: "https://evil.example/" }));
    await fetch(`${env.brokerUrl}/messenger/webhook/${bank.client_id}?hub.mode=subscribe&hub.verify_token=${bank.verifyToken}&hub.challenge=1`);
    await fetch(`${env.brokerUrl}/connect/register/${bank.client_id}`, { headers: { authorization: `Bearer ${bank.registration_access_token}` } });
    await fetch(`${env.brokerUrl}/ledger/consents`, { headers: { authorization: `Bearer ${secrets.ledger_token}` } });

    const body = accountLinkingDelivery(env.graph.pageId, "psid-secret", "unlinked", env.clock.now().getTime());
    await api.webhook(body, `sha256=${createHmac("sha256", bank.appSecret).update(body).digest("hex")}`);
    await postForm(`${env.brokerUrl}/oauth/revoke`, { token: secrets.refresh_token_2 }, { authorization: basic(bank.client_id, bank.client_secret) });

    const log = lines.join("");
    expect(lines.length).toBeGreaterThan(20);
    for (const [name, value] of Object.entries(secrets)) {
      expect(value, name).toBeTruthy();
      expect(log.includes(value), `${name} appears in the logs`).toBe(false);
    }
  });
});
