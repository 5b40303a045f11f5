// Wires the sandbox: Messenger simulator + bank bot on one port, the bank's IdP on its own.
import { randomBytes } from "node:crypto";
import formbody from "@fastify/formbody";
import Fastify from "fastify";
import type { SandboxConfig } from "./config.ts";
import { loadSecrets } from "./secrets.ts";
import { createIdp } from "./bank-idp/idp-server.ts";
import { brokerIsUp } from "@link-broker/client";
import { createRegistrationManager } from "./bank-bot/registration.ts";
import { createBot } from "./bank-bot/bot-service.ts";
import { botRoutes } from "./bank-bot/bot-routes.ts";
import { bankRoutes } from "./bank-bot/bank-routes.ts";
import { createBankNotifications } from "./bank-bot/bank-notifications.ts";
import { createConsentEvents } from "./bank-bot/consent-events.ts";
import { createConsentReactions } from "./bank-bot/consent-reactions.ts";
import { createMessengerSend } from "./bank-bot/messenger-send.ts";
import { createRemoteJWKSet } from "jose";
import { createLinkingTokens } from "./messenger/linking-tokens.ts";
import { createConversations } from "./messenger/conversations.ts";
import { createAuthenticator } from "./messenger/authenticator.ts";
import { chatRoutes } from "./messenger/chat-routes.ts";
import { graphRoutes } from "./messenger/graph-routes.ts";

export interface SandboxDeps {
  now?: () => number;
  logLevel?: string;
  /** How often webhooks the broker did not take are delivered again. */
  outboxRetryMs?: number;
}

export async function buildSandbox(config: SandboxConfig, deps: SandboxDeps = {}) {
  const now = deps.now ?? Date.now;
  const secrets = loadSecrets(config.dataDir);
  const idp = await createIdp({
    issuer: config.idpIssuer,
    dataDir: config.dataDir,
    clientId: secrets.idpClientId,
    clientSecret: secrets.idpClientSecret,
    redirectUri: `${config.brokerUrl}/link/callback`,
    cookieKeys: secrets.idpCookieKeys,
  });

  const registration = createRegistrationManager(config.dataDir, { timeoutMs: config.brokerTimeoutMs }, {
    brokerUrl: config.brokerUrl,
    initialAccessToken: config.registrationToken,
    messenger: { page_id: secrets.pageId, page_access_token: secrets.pageAccessToken, app_secret: secrets.appSecret, verify_token: secrets.verifyToken },
    bank_idp: { issuer: config.idpIssuer, client_id: secrets.idpClientId, client_secret: secrets.idpClientSecret },
    // The broker pushes consent events here; loopback http is accepted outside production.
    events_uri: `http://127.0.0.1:${config.port}/bot/events`,
  });
  const bot = createBot({ brokerUrl: config.brokerUrl, timeoutMs: config.brokerTimeoutMs, dataDir: config.dataDir, registration, now });

  const app = Fastify({ logger: { level: deps.logLevel ?? process.env.LOG_LEVEL ?? "warn" } });
  await app.register(formbody);
  const tokens = createLinkingTokens(now);
  const conversations = createConversations(config.dataDir, now);
  await botRoutes(app, { bot, appSecret: secrets.appSecret, verifyToken: secrets.verifyToken });

  // The bank's pushes go straight to Messenger's Send API with its page token, never via the broker.
  const send = createMessengerSend({ graphUrl: `http://127.0.0.1:${config.port}/graph/v23.0`, pageAccessToken: secrets.pageAccessToken, timeoutMs: config.brokerTimeoutMs });
  const notifications = createBankNotifications({ linkedPsids: bot.linkedPsids, checkPair: bot.checkPair, send, now });
  const events = createConsentEvents({
    dataDir: config.dataDir,
    jwks: createRemoteJWKSet(new URL(`${config.brokerUrl}/jwks.json`), { timeoutDuration: config.brokerTimeoutMs }),
    issuer: bot.issuer,
    clientId: bot.clientId,
    now,
    ...createConsentReactions({ forgetLink: bot.forgetLink, loginUrl: bot.loginUrl, send }),
  });
  await bankRoutes(app, { events, notifications, linkedPsids: bot.linkedPsids });
  const chat = await chatRoutes(app, {
    publicUrl: config.publicUrl,
    dataDir: config.dataDir,
    pageId: secrets.pageId,
    appSecret: secrets.appSecret,
    tokens,
    conversations,
    authenticator: createAuthenticator(config.dataDir, now),
    botWebhookUrl: `http://127.0.0.1:${config.port}/bot/webhook`,
    brokerWebhookUrl: async () => `${config.brokerUrl}/messenger/webhook/${encodeURIComponent(await bot.clientId())}`,
    loginUrl: (psid) => bot.loginUrl(psid),
    isLinked: (psid) => bot.isLinked(psid),
    // Short: the chat page waits for this answer before it renders.
    brokerUp: () => brokerIsUp({ brokerUrl: config.brokerUrl, timeoutMs: Math.min(config.brokerTimeoutMs, 1500) }),
    now,
  });
  // The broker unlinked: Messenger tells the page's webhook (the bank bot), not the broker again.
  await graphRoutes(app, {
    pageId: secrets.pageId,
    pageAccessToken: secrets.pageAccessToken,
    tokens,
    publicUrl: config.publicUrl,
    onPageMessage: (m) => conversations.addFromPage(m.psid, m.text, m.buttons),
    onUnlinkAccounts: async (psid) => {
      await chat.deliverUnlinked(psid, false);
    },
  });
  app.get("/healthz", async () => ({ status: "ok" }));

  // What Messenger does when a page subscribes a webhook: the verify handshake (hub.challenge).
  async function subscribePage(reg: { client_id: string }) {
    const challenge = randomBytes(12).toString("hex");
    const url = new URL(`${config.brokerUrl}/messenger/webhook/${encodeURIComponent(reg.client_id)}`);
    url.search = new URLSearchParams({ "hub.mode": "subscribe", "hub.verify_token": secrets.verifyToken, "hub.challenge": challenge }).toString();
    const res = await fetch(url, { signal: AbortSignal.timeout(config.brokerTimeoutMs) }).catch(() => undefined);
    const body = res ? await res.text() : "";
    if (!res?.ok || body.trim() !== challenge) app.log.warn({ status: res?.status }, "the broker did not answer the Messenger webhook verify handshake");
  }

  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let outboxTimer: NodeJS.Timeout | undefined;
  return {
    app,
    idp,
    secrets,
    tokens,
    bot,
    registration,
    events,
    notifications,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        idp.server.once("error", reject);
        idp.server.listen(config.idpPort, config.host, () => resolve());
      });
      await app.listen({ port: config.port, host: config.host });
      // Register in the background, retrying while the broker starts: the chat works (and says
      // the broker is down) without it, and the Log In button retries too.
      const attempt = (left: number) => {
        registration.get().then(subscribePage).catch((err) => {
          if (left > 0 && !closed) retry = setTimeout(() => attempt(left - 1), 2000);
          else app.log.warn({ err: (err as Error).message }, "registration with the broker failed; retried on next use");
        });
      };
      attempt(30);
      outboxTimer = setInterval(() => void chat.retryOutbox().catch(() => {}), deps.outboxRetryMs ?? 5000);
      outboxTimer.unref();
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(outboxTimer);
      await app.close();
      await new Promise<void>((resolve) => {
        idp.server.close(() => resolve());
        idp.server.closeAllConnections();
      });
    },
  };
}
