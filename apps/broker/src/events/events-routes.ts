import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { preHandlerHookHandler } from "fastify";
import { limitByClient, limitByIp, type RateLimiter } from "../plugins/rate-limit.ts";
import type { EndpointLimits } from "../plugins/rate-limit-policy.ts";
import { Type } from "typebox";
import { UnauthorizedError } from "../errors.ts";
import { MAX_EVENTS, type createPollService } from "./poll-service.ts";

export interface EventsRoutesOptions {
  clientAuth: preHandlerHookHandler;
  rateLimiter: RateLimiter;
  /** Polls per caller address and per bank: BROKER_RATE_LIMITS' `events_poll`. */
  limits: EndpointLimits;
  poll: ReturnType<typeof createPollService>;
}

const Jti = Type.String({ minLength: 1, maxLength: 100 });

const PollBody = Type.Object(
  {
    ack: Type.Optional(Type.Array(Jti, { maxItems: MAX_EVENTS, description: "jtis of SETs the bank has processed; they are never returned again" })),
    setErrs: Type.Optional(
      Type.Record(Jti, Type.Object({ err: Type.String({ maxLength: 100 }), description: Type.Optional(Type.String({ maxLength: 500 })) }), {
        maxProperties: MAX_EVENTS,
        description: "SETs the bank received but could not process (RFC 8936 §2.4.4); also acknowledges them",
      }),
    ),
    maxEvents: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_EVENTS, description: "At most this many SETs (default 100); 0 only acknowledges" })),
    returnImmediately: Type.Optional(Type.Boolean({ description: "true: answer at once even when there is nothing; else wait up to 10 s for an event (long poll)" })),
    // Client authentication by assertion may ride in the body (private_key_jwt).
    client_id: Type.Optional(Type.String({ maxLength: 200 })),
    client_assertion_type: Type.Optional(Type.String({ maxLength: 200 })),
    client_assertion: Type.Optional(Type.String({ maxLength: 8_000 })),
  },
  { additionalProperties: false },
);

const PollAnswer = Type.Object({
  sets: Type.Record(Type.String(), Type.String(), { description: "SETs by jti, oldest first: compact JWS, `typ: secevent+jwt`, verifiable with /jwks.json" }),
  moreAvailable: Type.Boolean(),
});

/** RFC 8936 poll delivery of consent events (client authentication as at the token endpoint). */
export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRoutesOptions> = async (app, { clientAuth, poll, rateLimiter, limits }) => {
  const perClient = limitByClient(rateLimiter, "events_poll", limits.perClient);
  app.post(
    "/events/poll",
    {
      onRequest: limitByIp(rateLimiter, "events_poll", limits.perIp),
      preHandler: [clientAuth, async (request, reply) => {
        const tooMany = await perClient(request, reply);
        if (tooMany) throw tooMany;
      }],
      schema: {
        tags: ["events"],
        summary: "Consent events (RFC 8936 poll): acknowledge processed SETs and take the next ones",
        body: PollBody,
        response: { 200: PollAnswer },
      },
    },
    async (request, reply) => {
      const clientId = request.client?.id;
      if (!clientId) throw new UnauthorizedError("Client authentication required", "invalid_client");
      // A bank that hangs up ends its long poll.
      const gone = new AbortController();
      reply.raw.once("close", () => gone.abort());
      reply.header("cache-control", "no-store");
      return poll.poll(clientId, request.body, gone.signal);
    },
  );
};
