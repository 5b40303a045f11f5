// Finding 9, staff side: an admin resets a customer's second factor from the compliance console
// (the subject access page), with a reason and the form's CSRF token; an auditor cannot. The
// reset is in the staff audit log, and the customer's linked chat is told.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driveLinkFlow } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "../support/linking-env.ts";
import { createStaff, csrfOf, postForm, signIn } from "../support/staff.ts";

let env: LinkingEnv;
let client: SeededClient;
const SUBJECT = "cust-alice-001";
const ACTION = "/console/customers/reset-second-factor";

beforeAll(async () => {
  env = await startLinkingEnv({ deps: "real" });
  client = await env.seedClient({ name: "Demo Bank" });
  await driveLinkFlow(env, { clientId: client.id, psid: "psid-alice" });
  await createStaff(env.db, "auditor@bank.example", "auditor");
  await createStaff(env.db, "admin@bank.example", "admin");
});
afterAll(() => env?.close());

const factors = () => env.db.prisma.totpFactor.count({ where: { clientId: client.id, subject: SUBJECT } });
const customerPage = (cookie: string, query = "") => env.broker.inject({ url: `/console/customers?subject=${SUBJECT}${query}`, headers: { cookie } });

describe("second-factor reset in the console", () => {
  it("an auditor sees no reset form, and a forged reset with a valid token of their session gets 403", async () => {
    expect(await factors()).toBe(1);
    const { cookie } = await signIn(env.broker, "auditor@bank.example");
    const page = await customerPage(cookie);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(client.id);
    expect(page.body).not.toContain('data-testid="reset-second-factor"');
    const { createConsoleCsrf } = await import("../../src/console/console-session.ts");
    const csrf = createConsoleCsrf(env.config.masterKey.key).tokenFor(cookie.slice("lb_staff=".length), `reset-2fa:${client.id}:${SUBJECT}`);
    const res = await postForm(env.broker, ACTION, cookie, { client_id: client.id, subject: SUBJECT, reason: "lost phone", csrf });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain("Only an admin may reset a customer&#39;s second factor");
    expect(await factors()).toBe(1);
    expect(await env.db.prisma.staffAuditEvent.count({ where: { action: "reset_second_factor" } })).toBe(0);
  });

  it("an admin resets it with a reason: the factor goes, the chat is told, the audit log says who and why", async () => {
    const { cookie } = await signIn(env.broker, "admin@bank.example");
    const page = await customerPage(cookie);
    expect(page.body).toContain('data-testid="reset-second-factor"');
    const csrf = csrfOf(page.body, ACTION);
    const fields = { client_id: client.id, subject: SUBJECT };
    expect((await postForm(env.broker, ACTION, cookie, { ...fields, reason: "lost phone" })).statusCode).toBe(403);
    // A token is bound to its customer and bank: it resets no one else.
    expect((await postForm(env.broker, ACTION, cookie, { client_id: client.id, subject: "cust-bob-002", reason: "lost phone", csrf })).statusCode).toBe(403);
    expect((await postForm(env.broker, ACTION, cookie, { ...fields, reason: "x", csrf })).statusCode).toBe(400);
    expect(await factors()).toBe(1);

    const messagesBefore = env.graph.messageCalls().length;
    const res = await postForm(env.broker, ACTION, cookie, { ...fields, reason: "lost phone, identity checked in branch", csrf });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/customers?subject=${SUBJECT}&done=reset`);
    expect(await factors()).toBe(0);
    const sent = env.graph.messageCalls().slice(messagesBefore);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toMatchObject({ recipient: { id: "psid-alice" }, tag: "ACCOUNT_UPDATE" });

    const admin = await env.db.prisma.staff.findUniqueOrThrow({ where: { email: "admin@bank.example" } });
    const row = await env.db.prisma.staffAuditEvent.findFirstOrThrow({ where: { action: "reset_second_factor" } });
    expect(row).toMatchObject({ staffId: admin.id, email: "admin@bank.example", target: `customer:${client.id}:${SUBJECT}`, detail: { reason: "lost phone, identity checked in branch", reset: true, notified: 1, not_notified: 0 } });
    expect(row.requestId).toBeTruthy();
    expect((await customerPage(cookie, "&done=reset")).body).toContain("The second factor is reset");

    // Again: nothing left to reset, nobody told, still recorded.
    const again = await postForm(env.broker, ACTION, cookie, { ...fields, reason: "asked twice", csrf });
    expect(again.headers.location).toBe(`/console/customers?subject=${SUBJECT}&done=none`);
    expect(env.graph.messageCalls().length).toBe(messagesBefore + 1);
    expect(await env.db.prisma.staffAuditEvent.count({ where: { action: "reset_second_factor" } })).toBe(2);
  });
});
