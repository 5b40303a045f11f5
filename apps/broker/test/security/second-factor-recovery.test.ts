// Finding 9: whoever first passed the bank sign-in enrolled the factor, and a lost phone locked
// the customer out for good. Enrolment now gives recovery codes (hashed, single-use, shown once),
// staff can reset a factor, and the customer is told in the chat when that happens.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrfOf, driveLinkFlow, postForm, totpCode, totpSecretOf } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "../support/linking-env.ts";

let env: LinkingEnv;
let client: SeededClient;
let recoveryCodes: string[] = [];
const SUBJECT = "cust-alice-001";

beforeAll(async () => {
  env = await startLinkingEnv();
  client = await env.seedClient({ name: "Demo Bank" });
});
afterAll(() => env?.close());

const codesOn = (html: string) => [...html.matchAll(/<li><code>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})<\/code><\/li>/g)].map((m) => m[1]!);

/** Opens a link for alice and answers the second-factor page. */
async function atSecondFactor(psid: string) {
  const r = await driveLinkFlow(env, { clientId: client.id, psid, stopAt: "second_factor" });
  return { jar: r.jar, html: await r.last.text() };
}

describe("recovery codes", () => {
  it("are shown once at enrolment and stored only as hashes", async () => {
    const { jar, html } = await atSecondFactor("psid-alice");
    recoveryCodes = codesOn(html);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const secret = totpSecretOf(html)!;
    env.totpSecrets.set(`${client.id}:alice`, secret);
    const ok = await postForm(jar, `${env.brokerUrl}/link/2fa`, { code: await totpCode(secret, env.clock.now()), csrf: csrfOf(html) });
    expect(ok.status).toBe(303);
    const consent = await jar.fetch(`${env.brokerUrl}/link/consent`);
    expect((await postForm(jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf: csrfOf(await consent.text()) })).status).toBe(303);

    const rows = await env.db.prisma.totpRecoveryCode.findMany();
    expect(rows).toHaveLength(10);
    const stored = JSON.stringify(rows);
    for (const code of recoveryCodes) expect(stored).not.toContain(code.replace(/-/g, ""));
  });

  it("a lost phone: one recovery code passes the second factor once", async () => {
    const { jar, html } = await atSecondFactor("psid-alice-2");
    expect(codesOn(html)).toEqual([]); // never shown again
    expect(html).toContain("Use a recovery code");
    const res = await postForm(jar, `${env.brokerUrl}/link/2fa`, { recovery_code: recoveryCodes[0]!.toLowerCase(), csrf: csrfOf(html) });
    expect(res.status).toBe(303);
    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-alice-2" } });
    expect(attempt).toMatchObject({ state: "second_factor_passed", secondFactorMethod: "recovery_code" });
    // The consent's evidence says how the customer confirmed: with a recovery code, and when.
    const consentPage = await jar.fetch(`${env.brokerUrl}/link/consent`);
    expect((await postForm(jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf: csrfOf(await consentPage.text()) })).status).toBe(303);
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { psid: "psid-alice-2" } });
    const { entries } = await env.broker.modules.ledger.ledger.get(link.consentId!);
    expect(entries.at(-1)).toMatchObject({ action: "granted", evidence: { second_factor: "recovery_code", second_factor_at: attempt.secondFactorAt!.toISOString() } });
    // That chat is unlinked again from Messenger's side, so alice has one linked chat below.
    await env.broker.modules.links.service.unlink(link.id, { actor: "messenger", reason: "test cleanup", notifyMessenger: false });
  });

  it("attack: the same recovery code again → refused, counted as a failure", async () => {
    const { jar, html } = await atSecondFactor("psid-alice-3");
    const res = await postForm(jar, `${env.brokerUrl}/link/2fa`, { recovery_code: recoveryCodes[0]!, csrf: csrfOf(html) });
    expect(res.status).toBe(400);
    const factor = await env.db.prisma.totpFactor.findFirstOrThrow({ where: { clientId: client.id, subject: SUBJECT } });
    expect(factor.failedCount).toBe(1);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-alice-3" } })).state).toBe("authenticated");
  });
});

describe("staff reset of a customer's factor", () => {
  it("removes the factor and its codes, tells every linked chat, and the next link enrols again", async () => {
    const reset = env.broker.modules.linking.resetSecondFactor;
    const result = await reset({ clientId: client.id, subject: SUBJECT, actor: "staff-7", reason: "lost phone, identity checked in branch" });
    expect(result).toMatchObject({ reset: true, notified: 1, notNotified: 0, actor: "staff-7" });
    expect(await env.db.prisma.totpFactor.count({ where: { clientId: client.id, subject: SUBJECT } })).toBe(0);
    expect(await env.db.prisma.totpRecoveryCode.count()).toBe(0);
    const sent = env.graph.messageCalls();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toMatchObject({ recipient: { id: "psid-alice" }, messaging_type: "MESSAGE_TAG", tag: "ACCOUNT_UPDATE" });
    expect(JSON.stringify(sent[0]!.body)).toMatch(/security code .* was reset .* If you did not ask for this/);
    expect(JSON.stringify(sent[0]!.body)).not.toContain("staff-7");

    const { html } = await atSecondFactor("psid-alice-4");
    expect(html).toContain("Set up your security code");
    expect(codesOn(html)).toHaveLength(10);
  });

  it("a customer without a factor: nothing changes, nobody is told", async () => {
    const before = env.graph.messageCalls().length;
    const result = await env.broker.modules.linking.resetSecondFactor({ clientId: client.id, subject: "cust-nobody", actor: "staff-7", reason: "x" });
    expect(result).toMatchObject({ reset: false, notified: 0 });
    expect(env.graph.messageCalls().length).toBe(before);
  });
});
