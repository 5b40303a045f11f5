import { createHash, createHmac } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { Clock } from "../clock.ts";
import { constantEquals } from "../crypto/constant-equals.ts";
import type { Sealer } from "../crypto/seal.ts";
import { BrokerError, ForbiddenError, NotFoundError, UnauthorizedError } from "../errors.ts";
import type { ClientLookup, LinkUnlinker } from "../contracts.ts";
import { messengerSettings } from "./messenger-secrets.ts";
import type { ReplayGuardRepo } from "./replay-guard-repo.ts";

export interface WebhookRoutesOptions {
  clients: ClientLookup;
  sealer: Sealer;
  clock: Clock;
  /** Link management: an `unlinked` event unlinks the PSID's active links. */
  links: LinkUnlinker;
  replayGuard: Pick<ReplayGuardRepo, "firstTime">;
}

interface MessagingEvent {
  sender?: { id?: unknown };
  recipient?: { id?: unknown };
  timestamp?: unknown;
  account_linking?: { status?: unknown; authorization_code?: unknown };
}

/**
 * Deliveries are retried for days; a delivery key is remembered for a week past the event's own
 * timestamp, and an event older than that week (or dated ahead of the clock) is refused, so a
 * captured signed body cannot be replayed once its key has been purged.
 */
const DELIVERY_TTL_MS = 7 * 86_400_000;
const FUTURE_SKEW_MS = 10 * 60_000;

const Params = Type.Object({ client_id: Type.String({ maxLength: 200, pattern: "^[\\x21-\\x7e]+$" }) });
const Ack = Type.Object({ received: Type.Integer(), unlinked: Type.Integer(), duplicates: Type.Integer(), stale: Type.Integer() });

/**
 * Messenger's webhook for one bank client. The POST body is kept as raw bytes (route-scoped
 * parser in this encapsulated plugin) because the signature covers the bytes as sent: a
 * re-serialized body never matches.
 */
export const messengerWebhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, options) => {
  const { clients, sealer, clock, links, replayGuard } = options;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: 256 * 1024 }, (_request, body, done) => done(null, body));

  async function settingsOf(clientId: string) {
    const client = await clients.get(clientId);
    const messenger = client && !client.deletedAt ? messengerSettings(client, sealer) : undefined;
    if (!messenger) throw new NotFoundError("No Messenger webhook for this client");
    return messenger;
  }

  app.get(
    "/messenger/webhook/:client_id",
    {
      schema: {
        tags: ["links"],
        summary: "Messenger webhook verification handshake",
        params: Params,
        querystring: Type.Object({ "hub.mode": Type.Optional(Type.String({ maxLength: 32 })), "hub.verify_token": Type.Optional(Type.String({ maxLength: 512 })), "hub.challenge": Type.Optional(Type.String({ maxLength: 512 })) }),
        response: { 200: Type.String() },
      },
    },
    async (request, reply) => {
      const messenger = await settingsOf(request.params.client_id);
      const q = request.query;
      if (q["hub.mode"] !== "subscribe" || !q["hub.challenge"]) throw new BrokerError("invalid_request", "hub.mode=subscribe and hub.challenge are required", 400);
      if (!q["hub.verify_token"] || !constantEquals(q["hub.verify_token"], messenger.verifyToken)) throw new ForbiddenError("hub.verify_token does not match");
      return reply.type("text/plain; charset=utf-8").send(q["hub.challenge"]);
    },
  );

  app.post(
    "/messenger/webhook/:client_id",
    { schema: { tags: ["links"], summary: "Messenger account_linking events (X-Hub-Signature-256 over the raw body)", params: Params, response: { 200: Ack } } },
    async (request) => {
      const messenger = await settingsOf(request.params.client_id);
      const raw = request.body;
      if (!Buffer.isBuffer(raw)) throw new UnauthorizedError("X-Hub-Signature-256 does not match the body", "invalid_signature");
      const header = request.headers["x-hub-signature-256"];
      const expected = `sha256=${createHmac("sha256", messenger.appSecret).update(raw).digest("hex")}`;
      if (typeof header !== "string" || !constantEquals(header.trim().toLowerCase(), expected)) {
        throw new UnauthorizedError("X-Hub-Signature-256 does not match the body", "invalid_signature");
      }

      let body: { object?: unknown; entry?: unknown };
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        throw new BrokerError("invalid_request", "body is not JSON", 400);
      }
      const entries = Array.isArray(body?.entry) ? (body.entry as { messaging?: unknown }[]) : [];
      const events = entries.flatMap((e) => (Array.isArray(e?.messaging) ? (e.messaging as MessagingEvent[]) : []));

      let received = 0;
      let unlinked = 0;
      let duplicates = 0;
      let stale = 0;
      const now = clock.now().getTime();
      for (const event of events) {
        const status = event?.account_linking?.status;
        const psid = event?.sender?.id;
        if ((status !== "linked" && status !== "unlinked") || typeof psid !== "string" || !/^[\x21-\x7e]{1,128}$/.test(psid)) continue;
        if (typeof event.recipient?.id === "string" && event.recipient.id !== messenger.pageId) continue;
        received++;
        // `linked` events are for the bank (it receives the code through them): acknowledged only.
        if (status !== "unlinked") continue;
        const at = event.timestamp;
        if (typeof at !== "number" || !Number.isSafeInteger(at) || at < now - DELIVERY_TTL_MS || at > now + FUTURE_SKEW_MS) {
          stale++;
          continue;
        }
        const key = `messenger:${request.params.client_id}:${createHash("sha256").update(`${psid}|${status}|${at}`).digest("hex")}`;
        if (!(await replayGuard.firstTime(key, new Date(Math.max(now, at) + DELIVERY_TTL_MS + 60_000)))) {
          duplicates++;
          continue;
        }
        for (const link of await links.activeByPsid(request.params.client_id, psid)) {
          const result = await links.unlink(link.id, { actor: "messenger", reason: "unlinked in Messenger", notifyMessenger: false });
          if (result.status === "unlinked") unlinked++;
        }
      }
      return { received, unlinked, duplicates, stale };
    },
  );
};
