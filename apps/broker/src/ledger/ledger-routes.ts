// The ledger's HTTP routes (DESIGN.md "Consent ledger"). Thin: validate, call the ledger, map.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { consentToWire, entryToWire, readCheckpointFile, type ConsentLedger } from "@link-broker/consent-ledger";
import type { preHandlerAsyncHookHandler, preHandlerHookHandler } from "fastify";
import { Type } from "typebox";
import { BadRequestError, BrokerError } from "../errors.ts";
import { tenantOf } from "./ledger-auth.ts";
import { CheckBody, CheckReply, ConsentReply, ConsentsQuery, ConsentsReply, ErrorReply, ExportQuery, IdParams, LedgerKeysReply, ReceiptReply, VerifyReply } from "./ledger-schemas.ts";
import { verifyReply } from "./verify-reply.ts";

export interface LedgerRoutesDeps {
  ledger: Pick<ConsentLedger, "check" | "find" | "get" | "receipt" | "verify" | "export" | "publishedKeys">;
  /** The customer's receipt page URL of a consent. */
  receiptUrl: (consentId: string) => string;
  /** LEDGER_CHECKPOINT_FILE: verify checks against it too. */
  checkpointFile?: string;
  /** `ledger:check` access. */
  checkAuth: preHandlerHookHandler | preHandlerAsyncHookHandler;
  /** `ledger:audit` access, or compliance (the operator's registration token until staff sessions exist). */
  auditAuth: preHandlerHookHandler | preHandlerAsyncHookHandler;
}

const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply };
const tags = ["ledger"];

export const ledgerRoutes: FastifyPluginAsyncTypebox<LedgerRoutesDeps> = async (app, { ledger, checkAuth, auditAuth, receiptUrl, checkpointFile }) => {
  app.post(
    "/ledger/check",
    { preHandler: checkAuth, schema: { tags, summary: "May this service use a scope for a purpose now?", body: CheckBody, response: { 200: CheckReply, ...errors } } },
    async (request) => {
      const b = request.body;
      const who =
        b.link_id !== undefined
          ? { linkId: b.link_id }
          : b.client_id !== undefined && b.subject !== undefined
            ? { clientId: b.client_id, subject: b.subject }
            : b.client_id !== undefined && b.psid !== undefined
              ? { clientId: b.client_id, psid: b.psid }
              : null;
      if (!who) throw new BadRequestError("give link_id, or client_id with subject or psid");
      const r = await ledger.check(who, { scope: b.scope, ...(b.purpose !== undefined ? { purpose: b.purpose } : {}) }, tenantOf(request));
      return { allowed: r.allowed, consent_id: r.consentId, expires_at: r.expiresAt?.toISOString() ?? null, reason: r.reason };
    },
  );

  app.get("/ledger/consents", { preHandler: auditAuth, schema: { tags, summary: "Consents, newest first, paginated", querystring: ConsentsQuery, response: { 200: ConsentsReply, ...errors } } }, async (request) => {
    const q = request.query;
    const page = await ledger.find({ clientId: q.client_id, subject: q.subject, psid: q.psid, linkId: q.link_id, status: q.status, limit: q.limit, cursor: q.cursor }, tenantOf(request));
    return { items: page.items.map(consentToWire), next_cursor: page.nextCursor };
  });

  app.get("/ledger/consents/:id", { preHandler: auditAuth, schema: { tags, summary: "A consent and its history", params: IdParams, response: { 200: ConsentReply, ...errors } } }, async (request) => {
    const { consent, entries } = await ledger.get(request.params.id, tenantOf(request));
    return { consent: consentToWire(consent), history: entries.map(entryToWire) as never };
  });

  app.get("/ledger/consents/:id/receipt", { preHandler: auditAuth, schema: { tags, summary: "Signed consent receipt (JWS)", params: IdParams, response: { 200: ReceiptReply, ...errors } } }, async (request) => {
    const receipt = await ledger.receipt(request.params.id, tenantOf(request));
    return { consent_id: request.params.id, receipt, receipt_url: receiptUrl(request.params.id) };
  });

  app.get(
    "/ledger/verify",
    { preHandler: auditAuth, schema: { tags, summary: "Recompute the hash chain, check every signed checkpoint and the consent projection", response: { 200: VerifyReply, ...errors } } },
    async (request) => {
      if (tenantOf(request).clientId !== undefined) throw new BrokerError("forbidden", "Only compliance may verify the whole ledger", 403);
      const anchored = checkpointFile ? await readCheckpointFile(checkpointFile).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? [] : Promise.reject(err))) : [];
      return verifyReply(await ledger.verify({ checkpoints: anchored }));
    },
  );

  // Public and cacheable: every ledger key ever used, so receipts and checkpoints verify for as
  // long as they are kept, whoever holds them.
  app.get("/ledger/keys.json", { schema: { tags, summary: "Every ledger signing key ever used (JWKS with activation and retirement times)", response: { 200: LedgerKeysReply } } }, async (_request, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return ledger.publishedKeys();
  });

  app.get(
    "/ledger/export",
    {
      preHandler: auditAuth,
      schema: { tags, summary: "The whole ledger, streamed (JSONL or CSV)", querystring: ExportQuery, response: { 200: Type.String({ description: "JSONL or CSV stream" }), ...errors } },
    },
    async (request, reply) => {
      if (tenantOf(request).clientId !== undefined) throw new BrokerError("forbidden", "Only compliance may export the whole ledger", 403);
      const { format = "jsonl", from, to } = request.query;
      const stream = ledger.export({ format, ...(from ? { from: new Date(from) } : {}), ...(to ? { to: new Date(to) } : {}) });
      return reply
        .header("cache-control", "no-store")
        .header("content-disposition", `attachment; filename="ledger.${format}"`)
        .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson")
        .send(stream as never); // a stream bypasses the serializer
    },
  );
};
