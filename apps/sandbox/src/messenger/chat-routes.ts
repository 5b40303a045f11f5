// The chat page and what Messenger does around it: the Log In / Log Out buttons, the
// redirect_uri landing, webhook delivery (signed) and the demo authenticator panel.
import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { renderChatPage, renderMessages } from "./chat-page.ts";
import type { Conversations } from "./conversations.ts";
import type { LinkingTokens } from "./linking-tokens.ts";
import { accountLinkingEvent, deliverWebhook, messageEvent, type WebhookDelivery } from "./webhook-signing.ts";
import { InvalidSecretError, type Authenticator } from "./authenticator.ts";
import { jsonFile } from "../json-store.ts";

export const LANDING_PATH = "/messenger_platform/account_linking";
const BOT_DOWN = "The bank bot is not reachable right now — try again in a moment.";
const BROKER_DOWN = "The bank is not reachable right now (broker down) — try again in a moment.";

export interface ChatOptions {
  publicUrl: string;
  dataDir: string;
  pageId: string;
  appSecret: string;
  tokens: LinkingTokens;
  conversations: Conversations;
  authenticator: Authenticator;
  botWebhookUrl: string;
  /** The broker's webhook URL for this page, once the bank is registered. */
  brokerWebhookUrl: () => Promise<string | undefined>;
  /** The bank bot's Log In button URL (PAR). */
  loginUrl: (psid: string) => Promise<string>;
  isLinked: (psid: string) => boolean;
  brokerUp: () => Promise<boolean>;
  now?: () => number;
}

const COOKIE = "sandbox_psid";

function psidOf(req: FastifyRequest, reply: FastifyReply): string {
  const match = /(?:^|;\s*)sandbox_psid=(\d{8,20})/.exec(req.headers.cookie ?? "");
  if (match?.[1]) return match[1];
  // A PSID is page-scoped and numeric; one per browser plays one Messenger user.
  const psid = String(BigInt(`0x${randomBytes(7).toString("hex")}`) + 1000000000000000n).slice(0, 16);
  reply.header("set-cookie", `${COOKIE}=${psid}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`);
  return psid;
}

export async function chatRoutes(app: FastifyInstance, opts: ChatOptions) {
  const now = opts.now ?? Date.now;
  const contexts = new Map<string, { psid: string; expiresAt: number }>();
  const flash = new Map<string, { error?: string; authenticatorError?: string }>();

  const botReplies = (d: WebhookDelivery): string[] => {
    if (!d.ok) return [BOT_DOWN];
    const replies = (d.body as { replies?: unknown })?.replies;
    return Array.isArray(replies) ? replies.map(String) : [];
  };

  // Like Messenger, a webhook the broker did not take is delivered again later: an unlink must
  // reach the ledger even when the broker was down at the time.
  const outbox = jsonFile<unknown[]>(opts.dataDir, "webhook-outbox.json", () => []);
  async function toBroker(event: unknown): Promise<WebhookDelivery> {
    const url = await opts.brokerWebhookUrl().catch(() => undefined);
    const d = url ? await deliverWebhook(url, event, opts.appSecret) : { url: "", ok: false };
    // 4xx means the broker read and refused it: delivering it again would not help.
    if (!d.ok && (d.status === undefined || d.status >= 500)) outbox.update((events) => [...events, event]);
    return d;
  }
  async function retryOutbox() {
    const pending = outbox.read();
    if (!pending.length) return;
    outbox.write([]);
    for (const event of pending) await toBroker(event);
  }

  async function deliverUnlinked(psid: string, alsoBroker: boolean) {
    const event = accountLinkingEvent(opts.pageId, psid, { status: "unlinked" }, now());
    const bot = await deliverWebhook(opts.botWebhookUrl, event, opts.appSecret);
    const broker = alsoBroker ? await toBroker(event) : undefined;
    return { bot, broker };
  }

  app.get("/", async (req, reply) => {
    const psid = psidOf(req, reply);
    const f = flash.get(psid);
    flash.delete(psid);
    const brokerUp = await opts.brokerUp();
    return reply
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .send(renderChatPage({ messages: opts.conversations.list(psid), linked: opts.isLinked(psid), brokerUp, codes: opts.authenticator.codes(), ...f }));
  });

  // What the page's poll reads: the transcript as the page renders it (escaped on the server).
  app.get("/messenger/messages", async (req, reply) => {
    const messages = opts.conversations.list(psidOf(req, reply));
    return reply.header("cache-control", "no-store").send({ count: messages.length, html: renderMessages(messages) });
  });

  app.post("/messenger/send", async (req, reply) => {
    const psid = psidOf(req, reply);
    const text = String((req.body as Record<string, unknown>)?.text ?? "").trim().slice(0, 500);
    if (text) {
      opts.conversations.add(psid, "user", [text]);
      const d = await deliverWebhook(opts.botWebhookUrl, messageEvent(opts.pageId, psid, text, now()), opts.appSecret);
      opts.conversations.add(psid, "bot", botReplies(d));
    }
    return reply.redirect("/", 303);
  });

  // The account_link button: Messenger appends account_linking_token and redirect_uri to the bank's URL.
  app.get("/messenger/account_link", async (req, reply) => {
    const psid = psidOf(req, reply);
    let url: URL;
    try {
      url = new URL(await opts.loginUrl(psid));
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, "log in button failed");
      const down = (err as Error).name === "BrokerUnreachableError" || (err as Error).message.includes("not reachable");
      flash.set(psid, { error: down ? BROKER_DOWN : `The bank could not start linking: ${(err as Error).message}` });
      return reply.redirect("/", 303);
    }
    const ctx = randomBytes(16).toString("base64url");
    contexts.set(ctx, { psid, expiresAt: now() + 15 * 60_000 });
    url.searchParams.set("account_linking_token", opts.tokens.mint(psid));
    url.searchParams.set("redirect_uri", `${opts.publicUrl}${LANDING_PATH}?ctx=${ctx}`);
    return reply.redirect(url.toString(), 302);
  });

  // Where the broker sends the customer back: with authorization_code on approval, without on denial.
  app.get(LANDING_PATH, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const context = q.ctx ? contexts.get(q.ctx) : undefined;
    if (!context || context.expiresAt < now()) {
      return reply.code(400).type("text/html").send("<p>This linking attempt is unknown or has expired. Go back to the chat and tap Log In again.</p><p><a href=\"/\">Back to the chat</a></p>");
    }
    contexts.delete(q.ctx!);
    const psid = context.psid;
    if (q.authorization_code) {
      const d = await deliverWebhook(opts.botWebhookUrl, accountLinkingEvent(opts.pageId, psid, { status: "linked", authorization_code: q.authorization_code }, now()), opts.appSecret);
      opts.conversations.add(psid, "system", ["Account linked."]);
      opts.conversations.add(psid, "bot", botReplies(d));
    } else {
      opts.conversations.add(psid, "system", ["Linking was cancelled — nothing was shared with the bank bot."]);
    }
    reply.header("set-cookie", `${COOKIE}=${psid}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`);
    return reply.redirect("/", 303);
  });

  // Log Out (account_unlink): Messenger notifies the page's webhooks — the bank bot and the broker.
  app.post("/messenger/unlink", async (req, reply) => {
    const psid = psidOf(req, reply);
    const { bot, broker } = await deliverUnlinked(psid, true);
    opts.conversations.add(psid, "system", ["You logged out of Sandbox Bank."]);
    opts.conversations.add(psid, "bot", botReplies(bot));
    if (broker && !broker.ok) flash.set(psid, { error: `${BROKER_DOWN} Your Log Out is kept and sent to the bank as soon as it is back.` });
    return reply.redirect("/", 303);
  });

  app.post("/authenticator", async (req, reply) => {
    const psid = psidOf(req, reply);
    try {
      opts.authenticator.add(String((req.body as Record<string, unknown>)?.secret ?? ""));
    } catch (err) {
      if (!(err instanceof InvalidSecretError)) throw err;
      flash.set(psid, { authenticatorError: err.message });
    }
    return reply.redirect("/", 303);
  });

  app.get("/authenticator/codes", async (_req, reply) => reply.header("cache-control", "no-store").send(opts.authenticator.codes()));

  return { deliverUnlinked, retryOutbox };
}
