// The bank's Messenger webhook: checks X-Hub-Signature-256 over the raw bytes, then handles
// `account_linking` (linked → code exchange, unlinked → forget tokens) and messages.
import type { FastifyInstance } from "fastify";
import { BrokerUnreachableError } from "@link-broker/client";
import { BROKER_DOWN, type Bot } from "./bot-service.ts";
import { verifyWebhookSignature } from "../messenger/webhook-signing.ts";

interface MessagingEvent {
  sender?: { id?: string };
  account_linking?: { status?: string; authorization_code?: string };
  message?: { text?: string };
}

export async function botRoutes(app: FastifyInstance, opts: { bot: Bot; appSecret: string; verifyToken: string }) {
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    (req as unknown as { rawBody: Buffer }).rawBody = body as Buffer;
    try {
      done(null, JSON.parse((body as Buffer).toString("utf8")));
    } catch {
      done(Object.assign(new Error("Body is not JSON"), { statusCode: 400 }), undefined);
    }
  });

  app.get("/bot/webhook", async (req, reply) => {
    const q = req.query as Record<string, string>;
    if (q["hub.mode"] === "subscribe" && q["hub.verify_token"] === opts.verifyToken) return reply.type("text/plain").send(q["hub.challenge"] ?? "");
    return reply.code(403).send({ error: "forbidden", message: "Wrong verify token" });
  });

  app.post("/bot/webhook", async (req, reply) => {
    const raw = (req as unknown as { rawBody?: Buffer }).rawBody;
    if (!raw || !verifyWebhookSignature(raw, req.headers["x-hub-signature-256"] as string | undefined, opts.appSecret)) {
      return reply.code(401).send({ error: "bad_signature", message: "X-Hub-Signature-256 does not match" });
    }
    const body = req.body as { entry?: { messaging?: MessagingEvent[] }[] };
    const replies: string[] = [];
    for (const entry of body.entry ?? []) {
      for (const event of entry.messaging ?? []) {
        const psid = event.sender?.id;
        if (!psid) continue;
        try {
          if (event.account_linking?.status === "linked" && event.account_linking.authorization_code) {
            replies.push(...(await opts.bot.onLinked(psid, event.account_linking.authorization_code)));
          } else if (event.account_linking?.status === "unlinked") {
            replies.push(...opts.bot.onUnlinked(psid));
          } else if (event.message?.text) {
            replies.push(...(await opts.bot.onMessage(psid, event.message.text)));
          }
        } catch (err) {
          req.log.warn({ err: (err as Error).message }, "webhook event failed");
          replies.push(err instanceof BrokerUnreachableError ? BROKER_DOWN : "I could not finish linking your account. Please tap Log In again.");
        }
      }
    }
    // Sandbox shortcut: the bot's replies come back in the webhook answer rather than through the Send API.
    return { replies };
  });
}
