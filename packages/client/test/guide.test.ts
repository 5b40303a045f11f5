// docs/banks.md, run: each step's snippet (examples/, quoted verbatim in the guide) against a
// real broker, a real oidc-provider bank and the customer's journey over HTTP (Messenger faked).
import { createHmac } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driveLinkFlow } from "../../../apps/broker/test/support/link-flow.ts";
import { type LinkingEnv, startLinkingEnv } from "../../../apps/broker/test/support/linking-env.ts";
import { TEST_REGISTRATION_TOKEN } from "../../../apps/broker/test/support/app.ts";
import { createBrokerClient, readRegistration, type Tokens } from "../src/index.ts";
import { registerBank } from "../examples/1-register.ts";
import { linkButton } from "../examples/2-link-button.ts";
import { onMessengerWebhook } from "../examples/3-webhook.ts";
import { freshTokens, mayReadBalance } from "../examples/4-before-read.ts";
import { rotateClientKey } from "../examples/5-rotate-key.ts";

const examplesDir = join(import.meta.dirname, "..", "examples");
const guide = readFileSync(join(import.meta.dirname, "..", "..", "..", "docs", "banks.md"), "utf8");

let env: LinkingEnv;
beforeAll(async () => {
  env = await startLinkingEnv({ deps: "real" });
}, 120_000);
afterAll(() => env?.close());

const sign = (body: Buffer, secret: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

describe("docs/banks.md", () => {
  it("quotes every example file verbatim", () => {
    for (const file of readdirSync(examplesDir).filter((f) => f.endsWith(".ts"))) {
      const code = readFileSync(join(examplesDir, file), "utf8").trimEnd();
      expect(guide.includes(`\`\`\`ts\n${code}\n\`\`\``), `docs/banks.md must quote packages/client/examples/${file} verbatim`).toBe(true);
    }
  });

  it("runs every step: register, button, webhook, check, refresh, unlink, key rotation", async () => {
    const appSecret = "page-app-secret-0123456789";
    const setup = {
      messenger: { page_id: env.graph.pageId, page_access_token: env.graph.pageAccessToken, app_secret: appSecret, verify_token: "verify-me-0123" },
      bank_idp: { issuer: env.idp.issuer, client_id: env.idp.clientId, client_secret: env.idp.clientSecret },
    };
    // 1. register
    const bank = await registerBank(env.brokerUrl, TEST_REGISTRATION_TOKEN, setup);
    const broker = createBrokerClient({ brokerUrl: env.brokerUrl, clientId: bank.clientId, auth: { method: "private_key_jwt", privateKey: bank.clientKey.privateKey, kid: bank.kid }, dpop: bank.dpopKey });

    // 2. the button, then the customer's journey through it
    const verifiers = new Map<string, string>();
    const psid = `psid-${Date.now()}`;
    const message = await linkButton(broker, psid, verifiers);
    const buttonUrl = new URL(message.message.attachment.payload.buttons[0]!.url);
    expect(buttonUrl.pathname).toBe("/link");
    const journey = await driveLinkFlow(env, { clientId: bank.clientId, psid, params: { request_uri: buttonUrl.searchParams.get("request_uri")! } });
    expect(journey.authorizationCode).toBeTruthy();

    // 3. the webhook brings the code: a bad signature is refused, a good one exchanged
    const tokens = new Map<string, Tokens>();
    const delivery = (status: string, code?: string) =>
      // As Messenger sends it, with the event's own time: the broker refuses events with none (replay window).
      Buffer.from(JSON.stringify({ object: "page", entry: [{ id: env.graph.pageId, time: Date.now(), messaging: [{ sender: { id: psid }, recipient: { id: env.graph.pageId }, timestamp: Date.now(), account_linking: { status, ...(code ? { authorization_code: code } : {}) } }] }] }));
    const linked = delivery("linked", journey.authorizationCode);
    expect((await onMessengerWebhook(linked, sign(linked, "wrong"), { appSecret, broker, verifiers, tokens })).status).toBe(401);
    expect((await onMessengerWebhook(linked, sign(linked, appSecret), { appSecret, broker, verifiers, tokens })).status).toBe(200);
    const t = tokens.get(psid)!;
    expect(t.token_type.toLowerCase()).toBe("dpop");

    // 4. check before the read; refresh
    expect(await mayReadBalance(broker, psid)).toBe(true);
    const refreshed = await freshTokens(broker, t);
    expect(refreshed.access_token).not.toBe(t.access_token);
    expect((await broker.introspect(refreshed.access_token)).active).toBe(true);

    // unlinking from Messenger: Messenger tells the broker (which withdraws) and the bank's page
    const unlinked = delivery("unlinked");
    const atBroker = await fetch(`${env.brokerUrl}/messenger/webhook/${bank.clientId}`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sign(unlinked, appSecret) }, body: unlinked });
    expect(atBroker.status).toBe(200);
    await onMessengerWebhook(unlinked, sign(unlinked, appSecret), { appSecret, broker, verifiers, tokens });
    expect(tokens.has(psid)).toBe(false);
    expect(await mayReadBalance(broker, psid)).toBe(false);

    // going live: rotate the assertion key; the new client works, the old key no longer does
    const manage = { brokerUrl: env.brokerUrl, clientId: bank.clientId, registrationAccessToken: bank.registrationAccessToken };
    const current = (await readRegistration(manage))!;
    const { client_id: _id, client_id_issued_at: _at, client_secret_expires_at: _exp, registration_client_uri: _uri, ...metadata } = current as Record<string, unknown>;
    const rotated = await rotateClientKey({ ...manage, metadata: { ...metadata, ...setup }, oldKey: { kid: bank.kid, pair: bank.clientKey }, dpop: bank.dpopKey });
    expect((await rotated.clientCredentials("ledger:check")).access_token).toBeTruthy();
    const stale = createBrokerClient({ brokerUrl: env.brokerUrl, clientId: bank.clientId, auth: { method: "private_key_jwt", privateKey: bank.clientKey.privateKey, kid: bank.kid }, dpop: bank.dpopKey });
    await expect(stale.clientCredentials("ledger:check")).rejects.toMatchObject({ code: "invalid_client" });
  }, 120_000);
});
