// The compliance console through its routes: sign-in (password + TOTP), sessions, roles, CSRF,
// search, withdraw, exports, overview counts and the staff audit log.
import type { ConsentLedger } from "@link-broker/consent-ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "./support/app.ts";
import { cookiesOf, createStaff, csrfOf, passwordStep, postForm, signIn, submitCode, totpAt } from "./support/staff.ts";

let now = Date.parse("2026-11-20T10:00:00Z");
const clock = { now: () => new Date(now) };
const advance = (ms: number) => {
  now += ms;
};
let broker: TestBroker;
let ledger: ConsentLedger;
const secrets: Record<string, string> = {};

/** A sign-in on a fresh time step (each TOTP step is accepted once). */
async function session(email: string) {
  advance(31_000);
  const s = await signIn(broker.app, email, { now: clock.now(), ...(secrets[email] ? { secret: secrets[email] } : {}) });
  secrets[email] = s.secret;
  return s.cookie;
}
const get = (url: string, cookie?: string) => broker.app.inject({ url, headers: cookie ? { cookie } : {} });

beforeAll(async () => {
  broker = await startTestBroker({ deps: { clock } });
  ledger = broker.app.modules.ledger.ledger;
  const { prisma } = broker.db;
  await prisma.client.create({ data: { id: "bank-a", name: "Bank A", registrationTokenHash: "ha", tokenEndpointAuthMethod: "client_secret_basic", scopes: ["balance:read"] } });
  await prisma.client.create({ data: { id: "bank-b", name: "Bank <B>", registrationTokenHash: "hb", tokenEndpointAuthMethod: "client_secret_basic", scopes: ["balance:read"] } });
  await createStaff(broker.db, "admin@bank.example", "admin");
  await createStaff(broker.db, "auditor@bank.example", "auditor");
  await createStaff(broker.db, "leaver@bank.example", "auditor");
  await createStaff(broker.db, "locked@bank.example", "auditor");
}, 120_000);
afterAll(() => broker?.close());

describe("sign-in", () => {
  it("enrols TOTP at the first sign-in and asks for a code at every sign-in after", async () => {
    const first = await passwordStep(broker.app, "Admin@Bank.example", "correct horse battery staple");
    expect(first.res.statusCode).toBe(303);
    expect(first.res.headers.location).toBe("/console/login/totp");
    const setCookie = String(first.res.headers["set-cookie"]);
    expect(setCookie).toMatch(/lb_staff=[^;]+; Max-Age=28800; Path=\/; HttpOnly; SameSite=Strict/);
    // A pending session opens nothing but the TOTP step.
    expect((await get("/console", `lb_staff=${first.session}`)).headers.location).toBe("/console/login/totp");
    expect((await get("/ledger/consents", `lb_staff=${first.session}`)).statusCode).toBe(401);
    const enrol = await get("/console/login/totp", `lb_staff=${first.session}`);
    expect(enrol.body).toContain("Set up your authenticator");
    expect(enrol.body).toMatch(/otpauth:\/\/totp\//);

    const cookie = await session("admin@bank.example");
    const page = await get("/console", cookie);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("admin@bank.example (admin)");
    // The next sign-in asks for a code, no enrolment.
    advance(31_000);
    const again = await passwordStep(broker.app, "admin@bank.example", "correct horse battery staple");
    const codePage = await get("/console/login/totp", `lb_staff=${again.session}`);
    expect(codePage.body).toContain("Enter your code");
    expect(codePage.body).not.toContain("otpauth://");
  });

  it("refuses a wrong password and an unknown email alike, and records both", async () => {
    const wrong = await passwordStep(broker.app, "auditor@bank.example", "not the password");
    const unknown = await passwordStep(broker.app, "nobody@bank.example", "whatever it is");
    for (const { res, session: s } of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain("Wrong email or password.");
      expect(s).toBeUndefined();
    }
    const rows = await broker.db.prisma.staffAuditEvent.findMany({ where: { action: "sign_in_failed" }, orderBy: { seq: "asc" } });
    expect(rows.map((r) => r.email)).toEqual(expect.arrayContaining(["auditor@bank.example", "nobody@bank.example"]));
    expect(JSON.stringify(rows.map((r) => [r.email, r.detail]))).not.toContain("not the password");
  });

  it("refuses a wrong TOTP code and a replayed one", async () => {
    const cookie = await session("auditor@bank.example"); // enrols
    expect(cookie).toMatch(/^lb_staff=/);
    advance(31_000);
    const { session: s } = await passwordStep(broker.app, "auditor@bank.example", "correct horse battery staple");
    const wrong = await submitCode(broker.app, s!, "000000");
    expect(wrong.res.statusCode).toBe(401);
    expect(wrong.res.body).toContain("That code is not right");
    const code = await totpAt(secrets["auditor@bank.example"]!, clock.now());
    expect((await submitCode(broker.app, s!, code)).res.statusCode).toBe(303);
    // The same code on another sign-in within its step: refused as replayed.
    const other = await passwordStep(broker.app, "auditor@bank.example", "correct horse battery staple");
    const replay = await submitCode(broker.app, other.session!, code);
    expect(replay.res.statusCode).toBe(401);
    expect(replay.res.body).toContain("already used");
    expect((await get("/console", `lb_staff=${other.session}`)).headers.location).toBe("/console/login/totp");
  });

  it("locks an account after five wrong passwords, even for the right one", async () => {
    for (let i = 0; i < 4; i++) expect((await passwordStep(broker.app, "locked@bank.example", `wrong ${i}`)).res.statusCode).toBe(401);
    const fifth = await passwordStep(broker.app, "locked@bank.example", "wrong 5");
    expect(fifth.res.statusCode).toBe(429);
    expect(fifth.res.body).toContain("locked until");
    // Answered like any rate limit: when to retry, and the policy it broke (five tries per 15 minutes).
    expect(fifth.res.headers).toMatchObject({ "retry-after": "900", "ratelimit-policy": '"console-password";q=5;w=900', ratelimit: '"console-password";r=0;t=900' });
    advance(60_000);
    const still = await passwordStep(broker.app, "locked@bank.example", "correct horse battery staple");
    expect(still.res.statusCode).toBe(429);
    expect(still.res.headers).toMatchObject({ "retry-after": "840", ratelimit: '"console-password";r=0;t=840' });
    advance(14 * 60_000 + 1_000);
    expect((await passwordStep(broker.app, "locked@bank.example", "correct horse battery staple")).res.statusCode).toBe(303);
  });

  it("locks the second factor after five wrong codes and ends that session", async () => {
    await createStaff(broker.db, "fumbler@bank.example", "auditor");
    await session("fumbler@bank.example");
    advance(31_000);
    const { session: s } = await passwordStep(broker.app, "fumbler@bank.example", "correct horse battery staple");
    for (let i = 0; i < 4; i++) expect((await submitCode(broker.app, s!, "123456")).res.statusCode).toBe(401);
    const page = await get("/console/login/totp", `lb_staff=${s}`);
    const res = await postForm(broker.app, "/console/login/totp", `lb_staff=${s}`, { code: "123456", csrf: csrfOf(page.body) });
    expect(res.statusCode).toBe(429);
    expect(res.headers).toMatchObject({ "retry-after": "900", "ratelimit-policy": '"console-second-factor";q=5;w=900', ratelimit: '"console-second-factor";r=0;t=900' });
    expect(res.body).toContain("locked until");
    expect((await get("/console", `lb_staff=${s}`)).headers.location).toBe("/console/login?expired=1");
  });

  it("a one-time password (staff create) must be replaced at the first sign-in before anything opens", async () => {
    await createStaff(broker.db, "newcomer@bank.example", "admin", "one-time-password-123", { passwordChangeRequired: true });
    advance(31_000);
    const s = await signIn(broker.app, "newcomer@bank.example", { password: "one-time-password-123", now: clock.now() });
    secrets["newcomer@bank.example"] = s.secret;
    expect((await get("/console", s.cookie)).headers.location).toBe("/console/password");
    expect((await get("/console/consents", s.cookie)).headers.location).toBe("/console/password");
    expect((await get("/ledger/consents", s.cookie)).statusCode).toBe(401);
    const page = await get("/console/password", s.cookie);
    expect(page.body).toContain("works for this first sign-in only");
    const csrf = csrfOf(page.body, "/console/password");
    const tries: [Record<string, string>, string][] = [
      [{ current: "wrong", password: "a brand new passphrase", confirm: "a brand new passphrase" }, "current password is not right"],
      [{ current: "one-time-password-123", password: "short", confirm: "short" }, "12 to 200 characters"],
      [{ current: "one-time-password-123", password: "a brand new passphrase", confirm: "a brand new passphrasE" }, "differ"],
    ];
    for (const [fields, message] of tries) {
      const res = await postForm(broker.app, "/console/password", s.cookie, { ...fields, csrf });
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain(message);
    }
    expect((await postForm(broker.app, "/console/password", s.cookie, { current: "one-time-password-123", password: "a brand new passphrase", confirm: "a brand new passphrase" })).statusCode).toBe(403);
    const ok = await postForm(broker.app, "/console/password", s.cookie, { current: "one-time-password-123", password: "a brand new passphrase", confirm: "a brand new passphrase", csrf });
    expect(ok.headers.location).toBe("/console");
    expect((await get("/console", s.cookie)).statusCode).toBe(200);
    advance(31_000);
    expect((await passwordStep(broker.app, "newcomer@bank.example", "one-time-password-123")).res.statusCode).toBe(401);
    expect((await passwordStep(broker.app, "newcomer@bank.example", "a brand new passphrase")).res.statusCode).toBe(303);
  });

  it("refuses a sign-in form without its CSRF token", async () => {
    const res = await broker.app.inject({ method: "POST", url: "/console/login", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: "email=admin%40bank.example&password=correct+horse+battery+staple&csrf=forged" });
    expect(res.statusCode).toBe(403);
    expect(cookiesOf(res).lb_staff).toBeUndefined();
  });
});

describe("sessions", () => {
  it("end after 15 minutes idle", async () => {
    const cookie = await session("admin@bank.example");
    advance(14 * 60_000);
    expect((await get("/console", cookie)).statusCode).toBe(200); // activity extends it
    advance(14 * 60_000);
    expect((await get("/console", cookie)).statusCode).toBe(200);
    advance(15 * 60_000 + 1_000);
    const res = await get("/console", cookie);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/console/login?expired=1");
    expect((await get("/console/login?expired=1")).body).toContain("Your session ended");
  });

  it("end 8 hours after sign-in, however active", async () => {
    const cookie = await session("admin@bank.example");
    for (let i = 0; i < 40; i++) {
      advance(12 * 60_000);
      const res = await get("/console/integrity", cookie);
      if (i < 39) expect(res.statusCode, `after ${(i + 1) * 12} min`).toBe(200);
      else expect(res.headers.location).toBe("/console/login?expired=1");
    }
  }, 60_000);

  it("end at sign-out, on the server", async () => {
    const cookie = await session("admin@bank.example");
    const page = await get("/console", cookie);
    const res = await postForm(broker.app, "/console/logout", cookie, { csrf: csrfOf(page.body, "/console/logout") });
    expect(res.statusCode).toBe(303);
    expect(String(res.headers["set-cookie"])).toMatch(/lb_staff=; Max-Age=0/);
    expect((await get("/console", cookie)).headers.location).toBe("/console/login?expired=1");
  });

  it("end when their staff member is disabled: the cookie opens nothing, console or ledger", async () => {
    const cookie = await session("leaver@bank.example");
    expect((await get("/console", cookie)).statusCode).toBe(200);
    expect((await get("/ledger/consents", cookie)).statusCode).toBe(200);
    const leaver = await broker.db.prisma.staff.findUniqueOrThrow({ where: { email: "leaver@bank.example" } });
    await broker.app.inject({ url: "/healthz" });
    await broker.db.prisma.staff.update({ where: { id: leaver.id }, data: { disabledAt: clock.now() } }); // as the CLI's disable does, without ending sessions
    expect((await get("/console", cookie)).headers.location).toBe("/console/login?expired=1");
    expect((await get("/ledger/consents", cookie)).statusCode).toBe(401);
    expect((await passwordStep(broker.app, "leaver@bank.example", "correct horse battery staple")).res.statusCode).toBe(401);
  });
});

describe("consents", () => {
  let linked: { consentId: string };
  let loose: { consentId: string };

  beforeAll(async () => {
    await broker.db.prisma.link.create({ data: { id: "link-1", clientId: "bank-a", subject: "cust-1", psid: "psid-1" } });
    linked = await ledger.grant({ clientId: "bank-a", subject: "cust-1", linkId: "link-1", psid: "psid-1", scopes: ["balance:read", "alerts:fraud"], actor: "customer" });
    await broker.db.prisma.link.update({ where: { id: "link-1" }, data: { consentId: linked.consentId } });
    loose = await ledger.grant({ clientId: "bank-b", subject: "<script>alert(1)</script>", scopes: ["balance:read"], actor: "customer" });
    await ledger.grant({ clientId: "bank-b", subject: "cust-1", scopes: ["support:chat"], actor: "customer" });
  });

  it("pages carry a strict CSP, no script, and escape every value", async () => {
    const cookie = await session("auditor@bank.example");
    const res = await get("/console/consents?bank=bank-b", cookie);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-security-policy"]).toBe("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(res.body).not.toMatch(/<script/i);
    expect(res.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(res.body).toContain("Bank &lt;B&gt;");
    expect((await get(`/console/consents/${loose.consentId}`, cookie)).body).not.toMatch(/<script/i);
  });

  it("searches by bank, customer, PSID, status, scope, purpose and dates", async () => {
    const cookie = await session("auditor@bank.example");
    const ids = async (q: string) => [...(await get(`/console/consents?${q}`, cookie)).body.matchAll(/href="\/console\/consents\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(await ids("customer=cust-1")).toHaveLength(2);
    expect(await ids("customer=cust-1&bank=bank-a")).toEqual([linked.consentId]);
    expect(await ids("psid=psid-1")).toEqual([linked.consentId]);
    expect(await ids("scope=alerts%3Afraud")).toEqual([linked.consentId]);
    expect(await ids("purpose=customer_support&status=active")).toHaveLength(1);
    expect(await ids("status=withdrawn")).toEqual([]);
    expect(await ids("from=2026-11-20&to=2026-11-20")).toHaveLength(3);
    expect(await ids("to=2026-11-19")).toEqual([]);
  });

  it("answers garbage and SQL-looking input with an empty result or a 400, never a 5xx", async () => {
    const cookie = await session("auditor@bank.example");
    for (const q of ["customer=' OR 1=1 --", "bank=x'; DROP TABLE consent; --", "scope=balance:read' OR '1'='1", "psid=%E2%80%AE%F0%9F%92%A5", "purpose=)))", "customer=" + "a".repeat(512)]) {
      const res = await get(`/console/consents?${q.replace(/ /g, "+").replace(/#/g, "%23")}`, cookie);
      expect(res.statusCode, q).toBe(200);
      expect(res.body, q).toContain("No consents match.");
    }
    for (const q of ["status=paused", "from=yesterday", "to=2026-13-45", "page=0", "page=-1", "page=abc", "customer=%00", "customer=" + "a".repeat(600), "bank=a%0Ab"]) {
      const res = await get(`/console/consents?${q}`, cookie);
      expect(res.statusCode, q).toBe(400);
      expect(res.headers["content-type"]).toMatch(/text\/html/);
    }
    expect((await get("/console/consents/%27%20OR%201%3D1", cookie)).statusCode).toBe(404);
    expect((await get("/console/audit?before=1;drop", cookie)).statusCode).toBe(400);
    expect((await get("/console/customers?subject=%27%20OR%201=1", cookie)).statusCode).toBe(200);
    expect(await broker.db.prisma.consent.count()).toBe(3);
  });

  it("an auditor sees no withdraw button and a forged withdrawal gets 403", async () => {
    const cookie = await session("auditor@bank.example");
    const page = await get(`/console/consents/${linked.consentId}`, cookie);
    expect(page.body).toContain('data-testid="timeline"');
    expect(page.body).not.toContain("Withdraw consent");
    const logoutCsrf = csrfOf(page.body, "/console/logout");
    // A valid-looking token of the auditor's own session, for the withdraw form they never got.
    const forged = await postForm(broker.app, `/console/consents/${linked.consentId}/withdraw`, cookie, { reason: "forged", csrf: logoutCsrf });
    expect(forged.statusCode).toBe(403);
    const { createConsoleCsrf } = await import("../src/console/console-session.ts");
    const real = createConsoleCsrf(broker.config.masterKey.key).tokenFor(cookie.slice("lb_staff=".length), `withdraw:${linked.consentId}`);
    const res = await postForm(broker.app, `/console/consents/${linked.consentId}/withdraw`, cookie, { reason: "forged", csrf: real });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain("Only an admin may withdraw a consent");
    expect((await ledger.get(linked.consentId)).consent.status).toBe("active");
  });

  it("an admin withdraws with a reason: the link ends as an unlink does, recorded by compliance with the staff id", async () => {
    const cookie = await session("admin@bank.example");
    const page = await get(`/console/consents/${linked.consentId}`, cookie);
    expect(page.body).toContain("Withdraw consent");
    const csrf = csrfOf(page.body, `/console/consents/${linked.consentId}/withdraw`);
    expect((await postForm(broker.app, `/console/consents/${linked.consentId}/withdraw`, cookie, { reason: "x", csrf })).statusCode).toBe(400);
    const noCsrf = await postForm(broker.app, `/console/consents/${linked.consentId}/withdraw`, cookie, { reason: "customer complaint" });
    expect(noCsrf.statusCode).toBe(403);
    const res = await postForm(broker.app, `/console/consents/${linked.consentId}/withdraw`, cookie, { reason: "customer complaint #42", csrf });
    expect(res.statusCode).toBe(303);
    const admin = await broker.db.prisma.staff.findUniqueOrThrow({ where: { email: "admin@bank.example" } });
    const { consent, entries } = await ledger.get(linked.consentId);
    expect(consent.status).toBe("withdrawn");
    expect(entries.at(-1)).toMatchObject({ action: "withdrawn", actor: "compliance", evidence: { staff_id: admin.id, reason: "customer complaint #42" } });
    expect(await broker.db.prisma.link.findUnique({ where: { id: "link-1" } })).toMatchObject({ status: "unlinked", unlinkedBy: "compliance" });
    expect(await broker.db.prisma.job.count({ where: { kind: "messenger.unlink" } })).toBe(1);
    const after = await get(`/console/consents/${linked.consentId}?done=withdrawn`, cookie);
    expect(after.body).toContain("The consent is withdrawn");
    expect(after.body).not.toContain("Withdraw consent");
    expect((await postForm(broker.app, `/console/consents/${linked.consentId}/withdraw`, cookie, { reason: "again please", csrf })).statusCode).toBe(409);
  });

  it("exports the current search as streamed CSV and JSONL", async () => {
    const cookie = await session("auditor@bank.example");
    const csv = await get("/console/consents/export?format=csv&bank=bank-b", cookie);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toMatch(/text\/csv/);
    expect(csv.headers["content-disposition"]).toBe('attachment; filename="consents.csv"');
    const lines = csv.body.trim().split("\r\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe("id,client_id,subject,psid,link_id,status,scopes,purposes,granted_at,expires_at,updated_at,last_seq");
    const jsonl = await get("/console/consents/export?format=jsonl&customer=cust-1", cookie);
    expect(jsonl.body.trim().split("\n").map((l) => JSON.parse(l).subject)).toEqual(["cust-1", "cust-1"]);
    expect((await get("/console/consents/export?format=xml", cookie)).statusCode).toBe(400);
  });

  it("the subject access page lists every consent of a customer across banks, as JSON too", async () => {
    const cookie = await session("auditor@bank.example");
    const page = await get("/console/customers?subject=cust-1", cookie);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("Bank");
    expect((page.body.match(/class="card"/g) ?? []).length).toBe(2);
    const json = await get("/console/customers/export?subject=cust-1", cookie);
    expect(json.headers["content-disposition"]).toBe('attachment; filename="subject-access-cust-1.json"');
    const report = json.json();
    expect(report.consents.map((c: { consent: { client_id: string } }) => c.consent.client_id).sort()).toEqual(["bank-a", "bank-b"]);
    expect(report.consents.find((c: { consent: { client_id: string } }) => c.consent.client_id === "bank-a").entries.map((e: { action: string }) => e.action)).toEqual(["granted", "withdrawn"]);
  });

  it("integrity runs verify", async () => {
    const cookie = await session("auditor@bank.example");
    const res = await get("/console/integrity/verify", cookie);
    expect(res.body).toContain("The ledger verifies.");
    expect(res.body).toMatch(/data-testid="checked">4</);
  });

  it("the overview counts from SQL match the ledger", async () => {
    const cookie = await session("auditor@bank.example");
    const res = await get("/console", cookie);
    expect(res.body).toMatch(/data-chart="daily"[^>]*data-granted="3" data-withdrawn="1" data-expired="0"/);
    expect(res.body).toContain('data-bank="bank-a" data-granted="1" data-withdrawn="1" data-expired="0"');
    expect(res.body).toContain('data-bank="bank-b" data-granted="2" data-withdrawn="0" data-expired="0"');
    const one = await get("/console?bank=bank-a", cookie);
    expect(one.body).toMatch(/data-chart="daily"[^>]*data-granted="1" data-withdrawn="1" data-expired="0"/);
    expect(one.body).not.toContain('data-bank="bank-b"');
    expect(one.body).toContain("for <strong>Bank A</strong>");
    expect((await get("/console?bank=%27%20OR%201%3D1", cookie)).body).toMatch(/data-chart="daily"[^>]*data-granted="0"/);
  });
});

describe("banks", () => {
  it("an admin disables a bank: its tokens are revoked and it is listed as disabled; an auditor cannot", async () => {
    const token = (await broker.app.modules.oauth.accessTokens.issue({ clientId: "bank-b", subject: "bank-b", scopes: ["ledger:check"] })).token;
    const check = () => broker.app.inject({ method: "POST", url: "/ledger/check", headers: { authorization: `Bearer ${token}` }, payload: { link_id: "x", scope: "balance:read" } });
    expect((await check()).statusCode).toBe(200);
    const auditor = await session("auditor@bank.example");
    const auditorPage = await get("/console/banks", auditor);
    expect(auditorPage.body).not.toContain("Disable</button>");
    expect((await postForm(broker.app, "/console/banks/bank-b/disable", auditor, { reason: "test", csrf: csrfOf(auditorPage.body, "/console/logout") })).statusCode).toBe(403);

    const admin = await session("admin@bank.example");
    const page = await get("/console/banks", admin);
    const res = await postForm(broker.app, "/console/banks/bank-b/disable", admin, { reason: "contract ended", csrf: csrfOf(page.body, "/console/banks/bank-b/disable") });
    expect(res.statusCode).toBe(303);
    expect((await check()).statusCode).toBe(401);
    expect((await get("/console/banks", admin)).body).toMatch(/data-client="bank-b">[\s\S]*?disabled 2026/);
    // No new link can start for it.
    const link = await get("/link?client_id=bank-b&scope=balance%3Aread&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&account_linking_token=t&redirect_uri=https%3A%2F%2Fwww.facebook.com%2Fmessenger_platform%2Faccount_linking");
    expect(link.statusCode).toBeGreaterThanOrEqual(400);
    expect(link.statusCode).toBeLessThan(500);
    expect(link.headers.location).toBeUndefined();
  });
});

describe("ledger read routes", () => {
  it("take a staff session; the registration token is no compliance credential any more", async () => {
    const cookie = await session("auditor@bank.example");
    expect((await get("/ledger/consents", cookie)).statusCode).toBe(200);
    expect((await get("/ledger/verify", cookie)).json()).toMatchObject({ ok: true });
    for (const url of ["/ledger/consents", "/ledger/verify", "/ledger/export"]) {
      expect((await broker.app.inject({ url, headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` } })).statusCode, url).toBe(401);
    }
  });
});

describe("OpenAPI", () => {
  it("documents every console route", async () => {
    const doc = (await get("/docs/json")).json() as { paths: Record<string, Record<string, unknown>> };
    for (const [method, path] of [["get", "/console/login"], ["post", "/console/login"], ["post", "/console/login/totp"], ["post", "/console/logout"], ["get", "/console/consents"], ["get", "/console/consents/export"], ["post", "/console/consents/{id}/withdraw"], ["get", "/console/customers/export"], ["get", "/console/integrity/verify"], ["post", "/console/banks/{id}/disable"], ["get", "/console/audit"], ["post", "/console/password"]] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toMatchObject({ tags: ["console"], responses: expect.any(Object) });
    }
  });
});

describe("staff audit log", () => {
  it("lists what staff did and cannot be edited", async () => {
    const cookie = await session("admin@bank.example");
    let pages = "";
    for (let url: string | undefined = "/console/audit", i = 0; url && i < 20; i++) {
      const res = await get(url, cookie);
      expect(res.statusCode).toBe(200);
      pages += res.body;
      url = /href="(\/console\/audit\?before=\d+)">Older/.exec(res.body)?.[1];
    }
    for (const action of ["sign_in", "sign_in_failed", "password_change", "search", "view", "export", "verify", "withdraw", "disable", "subject_access", "sign_out"]) expect(pages, action).toContain(`<td>${action}</td>`);
    expect(pages).toContain("customer complaint #42");
    await expect(broker.db.prisma.$executeRawUnsafe(`UPDATE staff_audit_event SET action = 'nothing'`)).rejects.toThrow(/append-only/);
    await expect(broker.db.prisma.$executeRawUnsafe(`DELETE FROM staff_audit_event`)).rejects.toThrow(/append-only/);
  });
});
