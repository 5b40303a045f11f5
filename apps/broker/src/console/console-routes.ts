// /console: sign-in (password, then TOTP), and the pages. Thin: parse, call the services, render.
import { readFileSync } from "node:fs";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { Clock } from "../clock.ts";
import { BadRequestError, BrokerError, ForbiddenError, UnauthorizedError } from "../errors.ts";
import { LOCK_MS, MAX_FAILURES } from "../linking/totp-service.ts";
import { lockoutHeaders } from "../plugins/rate-limit-policy.ts";
import type { ConsentSearch } from "./console-repo.ts";
import { auditPage, banksPage, passwordPage, consentPage, customerLookupPage, customerPage, errorPage, integrityPage, loginPage, overviewPage, searchPage, totpPage, type Chrome, type SearchForm } from "./console-pages.ts";
import { PAGE_SIZE, type ConsoleService, type StaffActor } from "./console-service.ts";
import { clearSessionCookie, loginBinding, readCookie, setSessionCookie, type ConsoleCookies, type ConsoleCsrf } from "./console-session.ts";
import type { StaffService, StaffSessionView } from "./staff-service.ts";

export interface ConsoleRoutesOptions {
  staff: StaffService;
  console: ConsoleService;
  csrf: ConsoleCsrf;
  cookies: ConsoleCookies;
  /** The TOTP issuer shown in authenticator apps. */
  issuer: string;
  /** The clock the lockouts were set by, for how long they have left. */
  clock: Clock;
}

/** No script at all; styles from one same-origin file; images only the enrolment QR (data:). */
export const CONSOLE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const CSS = readFileSync(new URL("./console.css", import.meta.url), "utf8");

const PRINTABLE = "^[^\\u0000-\\u001f\\u007f]*$";
const str = (max: number) => Type.Optional(Type.String({ maxLength: max, pattern: PRINTABLE }));
const Html = { 200: Type.String(), "3xx": Type.String(), "4xx": Type.String(), "5xx": Type.String() };
const tags = ["console"];
const pageConfig = { errorFormat: "page" as const };
const LoginForm = Type.Object({ email: str(254), password: Type.Optional(Type.String({ maxLength: 200 })), csrf: str(128) });
const CodeForm = Type.Object({ code: str(32), csrf: str(128) });
const CsrfForm = Type.Object({ csrf: str(128) });
const PasswordForm = Type.Object({ current: Type.Optional(Type.String({ maxLength: 200 })), password: Type.Optional(Type.String({ maxLength: 200 })), confirm: Type.Optional(Type.String({ maxLength: 200 })), csrf: str(128) });
const ReasonForm = Type.Object({ reason: str(500), csrf: str(128) });
const SearchQuery = Type.Object({ bank: str(200), customer: str(512), psid: str(200), status: str(20), scope: str(100), purpose: str(100), from: str(10), to: str(10), page: str(6) });
const ExportQuery = Type.Object({ ...SearchQuery.properties, format: str(10) });
const CustomerQuery = Type.Object({ subject: str(512), psid: str(200), done: str(20) });
const ResetFactorForm = Type.Object({ client_id: str(200), subject: str(512), reason: str(500), csrf: str(128) });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, pattern: PRINTABLE }) });
const AuditQuery = Type.Object({ before: str(20) });

declare module "fastify" {
  interface FastifyRequest {
    staffSession?: StaffSessionView;
  }
}

function sendPage(reply: FastifyReply, body: string, status = 200) {
  return reply.status(status).header("content-type", "text/html; charset=utf-8").header("content-security-policy", CONSOLE_CSP).header("cache-control", "no-store").send(body);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
function parseDate(value: string | undefined, name: string, endOfDay: boolean): Date | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}T00:00:00Z`);
  if (!DATE.test(value) || Number.isNaN(d.getTime())) throw new BadRequestError(`${name} must be a date (YYYY-MM-DD)`);
  return endOfDay ? new Date(d.getTime() + 86_400_000) : d;
}

/** Search form → filters. Unknown statuses and malformed dates are refused; free text only filters. */
function toSearch(q: SearchForm): ConsentSearch {
  if (q.status && !["active", "withdrawn", "expired"].includes(q.status)) throw new BadRequestError("status must be active, withdrawn or expired");
  const s: ConsentSearch = {};
  if (q.bank) s.clientId = q.bank;
  if (q.customer) s.subject = q.customer;
  if (q.psid) s.psid = q.psid;
  if (q.status) s.status = q.status as ConsentSearch["status"];
  if (q.scope) s.scope = q.scope;
  if (q.purpose) s.purpose = q.purpose;
  const from = parseDate(q.from, "from", false);
  const to = parseDate(q.to, "to", true);
  if (from) s.from = from;
  if (to) s.to = to;
  return s;
}

function parsePage(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 1;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 10_000) throw new BadRequestError("page must be a number from 1 to 10000");
  return n;
}

export const consoleRoutes: FastifyPluginAsyncTypebox<ConsoleRoutesOptions> = async (app, options) => {
  const { staff, console: service, csrf, cookies, issuer, clock } = options;
  const sessionCookie = (request: FastifyRequest) => readCookie(request, cookies.session);
  const actorOf = (request: FastifyRequest): StaffActor => ({ staff: request.staffSession!.staff, requestId: request.id, ip: request.ip });
  const chromeOf = (request: FastifyRequest, current: string): Chrome => {
    const binding = sessionCookie(request)!;
    return { staff: request.staffSession!.staff, csrf: (form) => csrf.tokenFor(binding, form), current };
  };
  const checkCsrf = (request: FastifyRequest, form: string, token: unknown) => {
    if (!csrf.check(sessionCookie(request), form, token)) throw new ForbiddenError("The form expired or did not come from this console. Reload the page and try again.", "csrf");
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = error instanceof BrokerError ? error : error.validation ? new BadRequestError(`Invalid request: ${error.message}`) : error.statusCode && error.statusCode < 500 ? new BrokerError("invalid_request", error.message, error.statusCode) : undefined;
    if (!e || e.status >= 500) {
      request.log.error({ err: error }, "console request failed");
      return sendPage(reply, errorPage("Something went wrong", "The console could not finish this request.", request.id, !!request.staffSession), 500);
    }
    request.log.info({ code: e.code, status: e.status }, "console request refused");
    const title = e.status === 403 ? "Not allowed" : e.status === 404 ? "Not found" : e.status === 409 ? "Nothing to do" : "Cannot do that";
    return sendPage(reply.headers(e.headers), errorPage(title, e.message, request.id, !!request.staffSession), e.status);
  });

  /** preHandler of every page but sign-in: a live, complete session of an enabled staff member. */
  async function requireStaff(request: FastifyRequest, reply: FastifyReply) {
    const session = await staff.authenticate(sessionCookie(request));
    if (!session) {
      if (request.method === "GET") return reply.redirect("/console/login?expired=1", 303);
      throw new UnauthorizedError("Your session has ended. Sign in again.");
    }
    if (!session.complete) {
      if (request.method === "GET") return reply.redirect("/console/login/totp", 303);
      throw new UnauthorizedError("Finish signing in first.");
    }
    if (session.staff.passwordChangeRequired && request.routeOptions.url !== "/console/password") {
      if (request.method === "GET") return reply.redirect("/console/password", 303);
      throw new ForbiddenError("Choose your own password first.");
    }
    request.staffSession = session;
  }
  // Pages: HTML, errors included (the console's own error handler), as the OpenAPI document says.
  const page = { preHandler: requireStaff, config: pageConfig };

  app.get("/console/console.css", { schema: { hide: true } }, async (_request, reply) => reply.type("text/css; charset=utf-8").header("cache-control", "public, max-age=300").send(CSS));

  // ---------------------------------------------------------------- sign-in

  app.get("/console/login", { config: pageConfig, schema: { tags, summary: "Staff sign-in page", querystring: Type.Object({ expired: str(1) }), response: Html } }, async (request, reply) => {
    const binding = loginBinding(request, reply, cookies);
    return sendPage(reply, loginPage(csrf.tokenFor(binding, "login"), request.query.expired ? { kind: "notice", text: "Your session ended. Sign in again." } : undefined));
  });

  app.post("/console/login", { config: pageConfig, schema: { tags, summary: "Staff sign-in: email and password (the TOTP step follows)", body: LoginForm, response: Html } }, async (request, reply) => {
    const binding = loginBinding(request, reply, cookies);
    const { email = "", password = "" } = request.body;
    if (!csrf.check(readCookie(request, cookies.login), "login", request.body.csrf)) {
      return sendPage(reply, loginPage(csrf.tokenFor(binding, "login"), { kind: "error", text: "The form expired. Please try again." }, email), 403);
    }
    const outcome = await staff.signIn(email, password);
    if (!outcome.ok) {
      await service.recordSignInFailure(outcome.staff, email, { requestId: request.id, ip: request.ip }, { step: "password", reason: outcome.reason });
      const text = outcome.reason === "locked" ? `Too many failed attempts. This account is locked until ${outcome.lockedUntil.toISOString().slice(11, 16)} UTC.` : "Wrong email or password.";
      if (outcome.reason === "locked") reply.headers(lockoutHeaders("console-password", MAX_FAILURES, LOCK_MS, outcome.lockedUntil, clock.now()));
      return sendPage(reply, loginPage(csrf.tokenFor(binding, "login"), { kind: "error", text }, email), outcome.reason === "locked" ? 429 : 401);
    }
    setSessionCookie(reply, cookies, outcome.cookie);
    return reply.redirect("/console/login/totp", 303);
  });

  /** The pending session (password passed, TOTP not yet). */
  async function pending(request: FastifyRequest): Promise<{ session: StaffSessionView; binding: string } | undefined> {
    const binding = sessionCookie(request);
    const session = await staff.authenticate(binding);
    return session && binding ? { session, binding } : undefined;
  }

  async function totpForm(session: StaffSessionView, binding: string, error?: string) {
    const status = await staff.factorStatus(session.staff.id);
    const enrolment = status.state === "enrolled" ? undefined : await staff.enrol(session, issuer);
    return totpPage({ csrf: csrf.tokenFor(binding, "totp"), email: session.staff.email, ...(enrolment ? { enrolment } : {}), ...(error ? { error } : {}) });
  }

  app.get("/console/login/totp", { config: pageConfig, schema: { tags, summary: "Second factor: enrol or enter a TOTP code", response: Html } }, async (request, reply) => {
    const p = await pending(request);
    if (!p) return reply.redirect("/console/login?expired=1", 303);
    if (p.session.complete) return reply.redirect("/console", 303);
    return sendPage(reply, await totpForm(p.session, p.binding));
  });

  app.post("/console/login/totp", { config: pageConfig, schema: { tags, summary: "Second factor: verify a TOTP code", body: CodeForm, response: Html } }, async (request, reply) => {
    const p = await pending(request);
    if (!p) return reply.redirect("/console/login?expired=1", 303);
    if (p.session.complete) return reply.redirect("/console", 303);
    checkCsrf(request, "totp", request.body.csrf);
    const outcome = await staff.secondFactor(p.session, request.body.code ?? "");
    if (outcome.ok) {
      await service.record({ staff: p.session.staff, requestId: request.id, ip: request.ip }, "sign_in", null);
      return reply.redirect(p.session.staff.passwordChangeRequired ? "/console/password" : "/console", 303);
    }
    await service.recordSignInFailure(p.session.staff, p.session.staff.email, { requestId: request.id, ip: request.ip }, { step: "totp", reason: outcome.reason });
    if (outcome.reason === "locked") {
      await staff.signOut(p.session);
      clearSessionCookie(reply, cookies);
      reply.headers(lockoutHeaders("console-second-factor", MAX_FAILURES, LOCK_MS, outcome.lockedUntil, clock.now()));
      return sendPage(reply, errorPage("Locked", `Too many wrong codes. Your second factor is locked until ${outcome.lockedUntil.toISOString().slice(11, 16)} UTC.`, request.id, false), 429);
    }
    const message = outcome.reason === "replayed" ? "That code was already used. Wait for the next one." : "That code is not right. Try again.";
    return sendPage(reply, await totpForm(p.session, p.binding, message), 401);
  });

  app.post("/console/logout", { config: pageConfig, schema: { tags, summary: "Sign out (ends the session on the server)", body: CsrfForm, response: Html } }, async (request, reply) => {
    const session = await staff.authenticate(sessionCookie(request));
    if (session) {
      checkCsrf(request, "logout", request.body.csrf);
      await staff.signOut(session);
      await service.record({ staff: session.staff, requestId: request.id, ip: request.ip }, "sign_out", null);
    }
    clearSessionCookie(reply, cookies);
    return reply.redirect("/console/login", 303);
  });

  app.get("/console/password", { ...page, schema: { tags, summary: "Change password (required at the first sign-in)", response: Html } }, async (request, reply) => {
    const { staff: member } = request.staffSession!;
    return sendPage(reply, passwordPage({ csrf: chromeOf(request, "").csrf("password"), email: member.email, required: member.passwordChangeRequired }));
  });

  app.post("/console/password", { ...page, schema: { tags, summary: "Change password", body: PasswordForm, response: Html } }, async (request, reply) => {
    checkCsrf(request, "password", request.body.csrf);
    const { staff: member } = request.staffSession!;
    const { current = "", password = "", confirm = "" } = request.body;
    const result = await staff.changePassword(member, current, password, confirm);
    if (!result.ok) return sendPage(reply, passwordPage({ csrf: chromeOf(request, "").csrf("password"), email: member.email, required: member.passwordChangeRequired, error: result.message }), 400);
    await service.record(actorOf(request), "password_change", `staff:${member.id}`);
    return reply.redirect("/console", 303);
  });

  // ---------------------------------------------------------------- pages

  app.get("/console", { ...page, schema: { tags, summary: "Overview charts (all banks, or one)", querystring: Type.Object({ bank: str(200) }), response: Html } }, async (request, reply) => {
    const overview = await service.overview(actorOf(request), request.query.bank || undefined);
    return sendPage(reply, overviewPage(chromeOf(request, "/console"), overview, await service.bankOptions()));
  });

  app.get("/console/consents", { ...page, schema: { tags, summary: "Search consents", querystring: SearchQuery, response: Html } }, async (request, reply) => {
    const { page: rawPage, ...form } = request.query;
    const search = toSearch(form);
    const pageNo = parsePage(rawPage);
    const banks = await service.bankOptions();
    const result = await service.search(actorOf(request), search, pageNo);
    return sendPage(reply, searchPage(chromeOf(request, "/console/consents"), form, { banks, scopes: service.scopes, purposes: service.purposes }, { ...result, page: pageNo }));
  });

  app.get("/console/consents/export", { preHandler: requireStaff, schema: { tags, summary: "The current search as JSONL or CSV, streamed", querystring: ExportQuery, response: { 200: Type.String(), "4xx": Type.String() } } }, async (request, reply) => {
    const { format = "csv", page: _page, ...form } = request.query;
    if (format !== "csv" && format !== "jsonl") throw new BadRequestError("format must be csv or jsonl");
    const stream = await service.export(actorOf(request), toSearch(form), format);
    return reply
      .header("cache-control", "no-store")
      .header("content-disposition", `attachment; filename="consents.${format}"`)
      .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson")
      .send(stream as never);
  });

  app.get("/console/consents/:id", { ...page, schema: { tags, summary: "A consent: timeline, receipt, withdraw (admin)", params: IdParams, querystring: Type.Object({ done: str(20) }), response: Html } }, async (request, reply) => {
    const found = await service.consent(actorOf(request), request.params.id);
    const notice = request.query.done === "withdrawn" ? "The consent is withdrawn: the link is ended, its tokens revoked and Messenger told." : undefined;
    return sendPage(reply, consentPage(chromeOf(request, "/console/consents"), found, { admin: request.staffSession!.staff.role === "admin", ...(notice ? { notice } : {}) }));
  });

  app.post("/console/consents/:id/withdraw", { ...page, schema: { tags, summary: "Withdraw a consent (admin, with a reason)", params: IdParams, body: ReasonForm, response: Html } }, async (request, reply) => {
    checkCsrf(request, `withdraw:${request.params.id}`, request.body.csrf);
    const reason = (request.body.reason ?? "").trim();
    if (request.staffSession!.staff.role !== "admin") throw new ForbiddenError("Only an admin may withdraw a consent");
    if (reason.length < 3) throw new BadRequestError("Give a reason (at least 3 characters)");
    await service.withdraw(actorOf(request), request.params.id, reason);
    return reply.redirect(`/console/consents/${encodeURIComponent(request.params.id)}?done=withdrawn`, 303);
  });

  app.get("/console/customers", { ...page, schema: { tags, summary: "Subject access: every consent of one customer", querystring: CustomerQuery, response: Html } }, async (request, reply) => {
    const { subject, psid } = request.query;
    const chrome = chromeOf(request, "/console/customers");
    if (!subject && !psid) return sendPage(reply, customerLookupPage(chrome));
    const who = subject ? { subject } : { psid: psid! };
    const done = request.query.done;
    const notice = done === "reset" ? "The second factor is reset: the customer enrols a new authenticator at their next link, and their linked chats were told." : done === "none" ? "This customer had no second factor at that bank: nothing changed." : undefined;
    return sendPage(reply, customerPage(chrome, who, await service.subjectAccess(actorOf(request), who), { admin: request.staffSession!.staff.role === "admin", ...(notice ? { notice } : {}) }));
  });

  app.post("/console/customers/reset-second-factor", { ...page, schema: { tags, summary: "Reset a customer's second factor at one bank (admin, with a reason)", body: ResetFactorForm, response: Html } }, async (request, reply) => {
    const clientId = request.body.client_id ?? "";
    const subject = request.body.subject ?? "";
    checkCsrf(request, `reset-2fa:${clientId}:${subject}`, request.body.csrf);
    if (request.staffSession!.staff.role !== "admin") throw new ForbiddenError("Only an admin may reset a customer's second factor");
    if (!clientId || !subject) throw new BadRequestError("Give the bank and the customer");
    const reason = (request.body.reason ?? "").trim();
    if (reason.length < 3) throw new BadRequestError("Give a reason (at least 3 characters)");
    const result = await service.resetSecondFactor(actorOf(request), { clientId, subject }, reason);
    return reply.redirect(`/console/customers?subject=${encodeURIComponent(subject)}&done=${result.reset ? "reset" : "none"}`, 303);
  });

  app.get("/console/customers/export", { preHandler: requireStaff, schema: { tags, summary: "Subject access as a JSON download", querystring: CustomerQuery, response: { 200: Type.Unknown(), "4xx": Type.String() } } }, async (request, reply) => {
    const { subject, psid } = request.query;
    if (!subject && !psid) throw new BadRequestError("give subject or psid");
    const report = await service.subjectAccess(actorOf(request), subject ? { subject } : { psid: psid! });
    const name = (subject ?? psid ?? "customer").replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 60);
    return reply.header("cache-control", "no-store").header("content-disposition", `attachment; filename="subject-access-${name}.json"`).type("application/json").send(JSON.stringify(report, null, 2));
  });

  app.get("/console/integrity", { ...page, schema: { tags, summary: "Ledger integrity", response: Html } }, async (request, reply) => sendPage(reply, integrityPage(chromeOf(request, "/console/integrity"))));
  app.get("/console/integrity/verify", { ...page, schema: { tags, summary: "Run verify and show the result", response: Html } }, async (request, reply) =>
    sendPage(reply, integrityPage(chromeOf(request, "/console/integrity"), await service.verify(actorOf(request)))),
  );

  app.get("/console/banks", { ...page, schema: { tags, summary: "Registered banks", querystring: Type.Object({ done: str(20) }), response: Html } }, async (request, reply) => {
    const banks = await service.banks(actorOf(request));
    const notice = request.query.done === "disabled" ? "The bank is disabled: its tokens are revoked and it can start no new link." : undefined;
    return sendPage(reply, banksPage(chromeOf(request, "/console/banks"), banks, { admin: request.staffSession!.staff.role === "admin", ...(notice ? { notice } : {}) }));
  });

  app.post("/console/banks/:id/disable", { ...page, schema: { tags, summary: "Disable a bank (admin): revokes its tokens, stops new links", params: IdParams, body: ReasonForm, response: Html } }, async (request, reply) => {
    checkCsrf(request, `disable:${request.params.id}`, request.body.csrf);
    if (request.staffSession!.staff.role !== "admin") throw new ForbiddenError("Only an admin may disable a bank");
    const reason = (request.body.reason ?? "").trim();
    if (reason.length < 3) throw new BadRequestError("Give a reason (at least 3 characters)");
    await service.disableBank(actorOf(request), request.params.id, reason);
    return reply.redirect("/console/banks?done=disabled", 303);
  });

  app.get("/console/audit", { ...page, schema: { tags, summary: "The staff audit log", querystring: AuditQuery, response: Html } }, async (request, reply) => {
    const raw = request.query.before;
    if (raw !== undefined && !/^\d{1,19}$/.test(raw)) throw new BadRequestError("before must be a sequence number");
    const rows = await service.auditLog(actorOf(request), raw !== undefined ? BigInt(raw) : undefined);
    return sendPage(reply, auditPage(chromeOf(request, "/console/audit"), rows, PAGE_SIZE));
  });
};
