// The bank's own HTTP endpoints beside its Messenger webhook: the consent-event receiver the bank
// registers as `events_uri` (RFC 8935), and the sandbox's bank-side page.
import type { FastifyInstance } from "fastify";
import { CUSTOMERS, findCustomer } from "../bank-idp/customers.ts";
import { renderBankPage } from "./bank-page.ts";
import { type BankNotifications, isPushKind } from "./bank-notifications.ts";
import { type ConsentEvents, SetRejected } from "./consent-events.ts";

export interface BankRoutesOptions {
  events: ConsentEvents;
  notifications: BankNotifications;
  linkedPsids(sub: string): string[];
}

export async function bankRoutes(app: FastifyInstance, opts: BankRoutesOptions) {
  app.addContentTypeParser("application/secevent+jwt", { parseAs: "string", bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

  // RFC 8935: the body is the SET itself; 202 when accepted (also for a jti seen before), 400 with `err` otherwise.
  app.post("/bot/events", async (req, reply) => {
    const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/secevent+jwt" || typeof req.body !== "string") {
      return reply.code(400).send({ err: "invalid_request", description: "the body must be one SET, Content-Type application/secevent+jwt" });
    }
    try {
      await opts.events.receive(req.body.trim());
    } catch (err) {
      if (err instanceof SetRejected) return reply.code(400).send({ err: err.err, description: err.message });
      // The broker's keys or metadata cannot be read right now: the broker delivers it again later.
      req.log.warn({ err: (err as Error).message }, "consent event not verifiable now");
      return reply.code(503).send({ err: "temporarily_unavailable", description: "the broker's keys cannot be read right now" });
    }
    return reply.code(202).send();
  });

  // Sandbox only: what the receiver got, for the end-to-end test and the curious.
  app.get("/bot/events/received", async (_req, reply) => reply.header("cache-control", "no-store").send({ events: opts.events.received() }));

  app.get("/bank", async (_req, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .send(renderBankPage({ customers: CUSTOMERS.map((customer) => ({ customer, psids: opts.linkedPsids(customer.customerId) })), outcomes: opts.notifications.outcomes(), events: opts.events.received() })),
  );

  app.post("/bank/simulate", async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const customer = typeof body.customer === "string" ? findCustomer(body.customer) : undefined;
    if (!customer || !isPushKind(body.kind)) return reply.code(400).type("text/html; charset=utf-8").send(`<p>Unknown customer or event.</p><p><a href="/bank">Back</a></p>`);
    await opts.notifications.simulate(customer.customerId, body.kind);
    return reply.redirect("/bank", 303);
  });
}
