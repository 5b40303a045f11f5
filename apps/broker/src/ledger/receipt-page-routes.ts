// GET /receipts/{consent_id}?token=: the customer's readable consent receipt: the terms in words,
// and the signed receipt (JWS) to keep. No account: the URL is the credential (an HMAC of the
// consent id under a key derived from the master key), handed out in the receipt itself and
// beside it on /ledger/consents/{id}/receipt. The JWS route keeps answering as before.
import { createHmac } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { decodeJwt } from "jose";
import { LedgerError, SCOPE_DESCRIPTIONS, type ConsentLedger } from "@link-broker/consent-ledger";
import { Type } from "typebox";
import type { Config } from "../config.ts";
import { constantEquals } from "../crypto/constant-equals.ts";
import { PageError } from "../errors.ts";
import { html, page, PAGE_CSP } from "../web/html.ts";

export function receiptTokenKey(config: Pick<Config, "masterKey">): Buffer {
  return createHmac("sha256", config.masterKey.key).update("ledger-receipt-page").digest();
}

export function receiptToken(key: Buffer, consentId: string): string {
  return createHmac("sha256", key).update(consentId, "utf8").digest("base64url");
}

export function receiptPageUrl(config: Pick<Config, "masterKey" | "publicUrl">, consentId: string): string {
  return `${config.publicUrl}/receipts/${encodeURIComponent(consentId)}?token=${receiptToken(receiptTokenKey(config), consentId)}`;
}

const notFound = () => new PageError("unknown_receipt", "Receipt not found", "This receipt link is not valid.", "Open the link from your bank's chat again, or ask your bank for a new one.", 404);

export interface ReceiptPageOptions {
  ledger: Pick<ConsentLedger, "receipt">;
  tokenKey: Buffer;
}

export const receiptPageRoutes: FastifyPluginAsyncTypebox<ReceiptPageOptions> = async (app, { ledger, tokenKey }) => {
  app.get(
    "/receipts/:id",
    {
      config: { errorFormat: "page" },
      schema: {
        tags: ["ledger"],
        summary: "The customer's readable consent receipt (HTML), with the signed receipt to keep",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
        querystring: Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 200: Type.String(), "4xx": Type.String() },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!constantEquals(request.query.token, receiptToken(tokenKey, id))) throw notFound();
      let jws: string;
      try {
        jws = await ledger.receipt(id);
      } catch (err) {
        if (err instanceof LedgerError && err.code === "unknown_consent") throw notFound();
        throw err;
      }
      const r = decodeJwt(jws) as Record<string, unknown> & { piiControllers: { piiController: string; contact?: string; email?: string }[]; services: { purposes: { purpose: string; termination: string }[] }[]; scopes: string[]; status: string; consentTimestamp: number; consentReceiptID: string; policyUrl?: string };
      const controller = r.piiControllers[0]!;
      const granted = new Date(r.consentTimestamp * 1000).toISOString().slice(0, 10);
      const body = html`<h1>Your consent receipt</h1>
<p>You allowed <strong>${controller.piiController}</strong> to use your linked account in Messenger on ${granted}. This consent is <strong>${r.status}</strong>.</p>
<p>${controller.piiController}'s chat may:</p>
<ul>${r.scopes.map((s) => html`<li>${(SCOPE_DESCRIPTIONS as Record<string, string>)[s] ?? s}</li>`)}</ul>
<p>Only for:</p>
<ul>${r.services[0]!.purposes.map((p) => html`<li>${p.purpose}</li>`)}</ul>
<p>It ends ${r.services[0]!.purposes[0]?.termination ?? ""}.</p>
<p class="notice">Your linked data is never used for advertising, marketing or profiling.</p>
<p class="muted">Contact: ${controller.email ?? controller.contact ?? controller.piiController}${r.policyUrl ? html` · <a href="${r.policyUrl}">privacy policy</a>` : ""} · receipt ${r.consentReceiptID}</p>
<h2>Signed receipt</h2>
<p class="muted">Keep this. It is signed by the broker's ledger key (published at /ledger/keys.json) and proves what you agreed to.</p>
<p><code>${jws}</code></p>`;
      return reply.header("content-type", "text/html; charset=utf-8").header("content-security-policy", PAGE_CSP).header("cache-control", "no-store").header("referrer-policy", "no-referrer").send(page("Your consent receipt", body));
    },
  );
};
