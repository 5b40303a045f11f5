import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { Type } from "typebox";
import { PageError } from "../errors.ts";
import { addRateLimitHeaders, type Limit, type RateLimiter } from "../plugins/rate-limit.ts";
import type { EndpointLimits } from "../plugins/rate-limit-policy.ts";
import { pageCsp, sendPage } from "../web/html.ts";
import { clearAttemptCookie, type createCsrf, readBinding, setAttemptCookie } from "./attempt-cookie.ts";
import { consentPage, secondFactorPage } from "./linking-pages.ts";
import { consentTerms } from "./consent-terms.ts";
import { Errors } from "./linking-errors.ts";
import { messengerReturnUrl } from "./link-params.ts";
import type { LinkingService } from "./linking-service.ts";

export interface LinkingRoutesOptions {
  service: LinkingService;
  csrf: ReturnType<typeof createCsrf>;
  rateLimiter: Pick<RateLimiter, "hit">;
  secureCookies: boolean;
  publicUrl: string;
  /** /link starts per caller address (each may cost a Graph call; the per-client limit is the service's). */
  linkIpLimit: Limit | undefined;
  /** POST /link/2fa: code checks per link attempt (`perClient`) and, when set, per caller address. */
  secondFactorLimits: EndpointLimits;
  /** Origins a page's form may end up at: Messenger's redirect allowlist (never a wildcard). */
  formActionOrigins: readonly string[];
}

/** Printable text only: control characters (NUL above all) never reach the database. */
export const PRINTABLE = "^[^\\u0000-\\u001f\\u007f]*$";
const str = (max: number) => Type.Optional(Type.String({ maxLength: max, pattern: PRINTABLE }));
const StartQuery = Type.Object({
  client_id: str(200),
  request_uri: str(512),
  scope: str(500),
  optional_scope: str(500),
  code_challenge: str(128),
  code_challenge_method: str(16),
  purpose: str(500),
  consent_duration_days: str(8),
  account_linking_token: str(1024),
  redirect_uri: str(2048),
});
/** `code`: the authenticator's 6 digits; `recovery_code`: one of the codes shown at enrolment. */
const CodeForm = Type.Object({ code: str(32), recovery_code: str(32), csrf: str(128) });
/** `scope`: one field per optional scope the customer ticked (repeated fields arrive as a list). */
const ConsentForm = Type.Object({
  decision: str(16),
  csrf: str(128),
  scope: Type.Optional(Type.Union([Type.String({ maxLength: 64, pattern: PRINTABLE }), Type.Array(Type.String({ maxLength: 64, pattern: PRINTABLE }), { maxItems: 16 })])),
});
const PageResponse = { 200: Type.String(), "4xx": Type.String(), "5xx": Type.String() };
const pageConfig = { errorFormat: "page" as const };

/** Views of the second-factor page per attempt per window: each one unseals a secret and draws a QR code. */
const TWO_FA_PAGE_LIMIT = { max: 20, windowSeconds: 5 * 60 };

/** GET /link, /link/callback, GET|POST /link/2fa, GET|POST /link/consent (DESIGN.md "Linking"). */
export const linkingRoutes: FastifyPluginAsyncTypebox<LinkingRoutesOptions> = async (app, options) => {
  const { service, csrf, rateLimiter, secureCookies } = options;
  const csp = pageCsp({ formActions: options.formActionOrigins });

  const tags = ["linking"];

  /** Counts a hit, adds the RateLimit fields to the answer, and refuses past the limit (429, Retry-After). */
  async function limit(reply: FastifyReply, key: string, policy: string, rule: Limit | undefined, refusal: () => PageError) {
    if (!rule) return;
    const hit = await rateLimiter.hit(key, rule);
    addRateLimitHeaders(reply, policy, rule, hit);
    if (hit.count <= rule.max) return;
    const e = refusal();
    e.headers["retry-after"] = String(Math.max(1, Math.ceil(hit.retryAfter)));
    throw e;
  }

  app.get("/link", { schema: { tags, summary: "Start linking (Messenger's account_link URL)", querystring: StartQuery, response: PageResponse }, config: pageConfig }, async (request, reply) => {
    await limit(reply, `link:ip:${request.ip}`, "link-ip", options.linkIpLimit, Errors.tooManyLinks);
    const { cookie, location } = await service.start(request.query, request.id, (policy, rule, hit) => addRateLimitHeaders(reply, policy, rule, hit), request);
    setAttemptCookie(reply, cookie, secureCookies);
    return reply.header("cache-control", "no-store").redirect(location, 302);
  });

  app.get("/link/callback", { schema: { tags, summary: "The bank identity provider's redirect back", response: PageResponse }, config: pageConfig }, async (request, reply) => {
    const current = new URL(request.url, options.publicUrl);
    const { location } = await service.callback(readBinding(request, secureCookies), current, request);
    return reply.header("cache-control", "no-store").redirect(location, 303);
  });

  app.get("/link/2fa", { schema: { tags, summary: "Second factor: enrol or enter a TOTP code", response: PageResponse }, config: pageConfig }, async (request, reply) => {
    const binding = readBinding(request, secureCookies);
    if (binding) await limit(reply, `link_2fa_page:${binding.attemptId}`, "link_2fa_page-attempt", TWO_FA_PAGE_LIMIT, Errors.tooManyViews);
    const { bankName, enrolment, attempt } = await service.secondFactorForm(binding);
    return sendPage(reply, secondFactorPage({ bankName, enrolment, csrf: csrf.tokenFor(binding!, "2fa"), returnUrl: messengerReturnUrl(attempt.redirectUri) }), 200, csp);
  });

  app.post("/link/2fa", { schema: { tags, summary: "Second factor: check a TOTP code", body: CodeForm, response: PageResponse }, config: pageConfig }, async (request, reply) => {
    const binding = readBinding(request, secureCookies);
    if (!binding) throw Errors.noSession();
    if (!csrf.check(binding, "2fa", request.body.csrf)) throw Errors.csrf();
    await limit(reply, `link_2fa:ip:${request.ip}`, "link_2fa-ip", options.secondFactorLimits.perIp, Errors.tooFast);
    await limit(reply, `link_2fa:${binding.attemptId}`, "link_2fa-attempt", options.secondFactorLimits.perClient, Errors.tooFast);
    const result = await service.verifySecondFactor(binding, request.body.code ?? request.body.recovery_code ?? "");
    if (result.ok) return reply.redirect("/link/consent", 303);
    if (result.reason === "not_enrolled") throw Errors.wrongStep();
    const error = result.reason === "replayed" ? "That code was already used. Wait for the next code and try again." : "That code is not right. Check your authenticator app and try again.";
    return sendPage(reply, secondFactorPage({ bankName: result.bankName, csrf: csrf.tokenFor(binding, "2fa"), error, returnUrl: messengerReturnUrl(result.attempt.redirectUri) }), 400, csp);
  });

  app.get("/link/consent", { schema: { tags, summary: "Consent: what the bank may do, for what, how long", response: PageResponse }, config: pageConfig }, async (request, reply) => {
    const binding = readBinding(request, secureCookies);
    const { attempt, bankName, expiresAt, messengerAccount } = await service.consentForm(binding, request);
    return sendPage(
      reply,
      consentPage({ bankName, ...consentTerms(attempt), durationDays: attempt.durationDays, expiresOn: expiresAt.toISOString().slice(0, 10), csrf: csrf.tokenFor(binding!, "consent"), messengerAccount }),
      200,
      messengerAccount?.picture ? pageCsp({ formActions: options.formActionOrigins, images: [messengerAccount.picture.origin] }) : csp,
    );
  });

  // Any other method on a linking path answers a page too (the not-found handler speaks JSON).
  const allowed: Record<string, string> = { "/link": "GET", "/link/callback": "GET", "/link/2fa": "GET, POST", "/link/consent": "GET, POST" };
  for (const [url, allow] of Object.entries(allowed)) {
    const methods = (["GET", "POST", "PUT", "PATCH", "DELETE"] as const).filter((m) => !allow.split(", ").includes(m));
    app.route({
      method: methods,
      url,
      schema: { hide: true, response: PageResponse },
      config: pageConfig,
      handler: async (_request, _reply) => {
        const e = new PageError("method_not_allowed", "This page cannot be used that way", "The page was asked for in a way it does not support.", "Go back to Messenger and start again.", 405);
        e.headers.allow = allow;
        throw e;
      },
    });
  }

  app.post("/link/consent", { schema: { tags, summary: "Consent: approve or deny", body: ConsentForm, response: PageResponse }, config: pageConfig }, async (request, reply) => {
    const binding = readBinding(request, secureCookies);
    if (!binding) throw Errors.noSession();
    if (!csrf.check(binding, "consent", request.body.csrf)) throw Errors.csrf();
    const decision = request.body.decision;
    if (decision !== "approve" && decision !== "deny") throw Errors.badRequest("decision must be approve or deny");
    const ticked = request.body.scope === undefined ? [] : Array.isArray(request.body.scope) ? request.body.scope : [request.body.scope];
    const { location } = await service.decide(binding, decision, request.id, ticked);
    clearAttemptCookie(reply, secureCookies);
    return reply.header("cache-control", "no-store").redirect(location, 303);
  });
};
