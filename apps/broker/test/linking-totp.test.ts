import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { generate } from "otplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSealer, keyIdOf } from "../src/crypto/seal.ts";
import { createTotpRepo } from "../src/linking/totp-repo.ts";
import { createTotpService, totpSecretContext } from "../src/linking/totp-service.ts";
import { bankLogin, csrfOf, openLink, postForm, totpCode, totpSecretOf } from "./support/link-flow.ts";
import { startLinkingEnv, testClock, type LinkingEnv, type SeededClient } from "./support/linking-env.ts";

describe("TOTP service", () => {
  let db: TestDb;
  const clock = testClock();
  const key = Buffer.alloc(32, 7);
  const sealer = createSealer({ kid: keyIdOf(key), key });
  const totp = () => createTotpService({ repo: createTotpRepo(db), sealer, clock });
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  async function enrolled(subject: string) {
    const service = totp();
    const enrolment = await service.enrol("bank-a", subject, `attempt-${subject}`, { issuer: "Bank A", account: "Bank A customer" });
    const uri = new URL(enrolment.otpauthUri);
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.searchParams.get("issuer")).toBe("Bank A");
    expect(uri.searchParams.get("algorithm") ?? "SHA1").toBe("SHA1");
    expect(uri.searchParams.get("digits") ?? "6").toBe("6");
    expect(uri.searchParams.get("period") ?? "30").toBe("30");
    const secret = uri.searchParams.get("secret")!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 20 bytes in base32
    expect(enrolment.qrDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
    // The picture is the otpauth URI's QR code, drawn as SVG.
    expect(Buffer.from(enrolment.qrDataUrl.split(",")[1]!, "base64").toString()).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*viewBox=/);
    const row = await db.prisma.totpFactor.findUniqueOrThrow({ where: { id: enrolment.factorId } });
    expect(sealer.unseal(row.secretSealed, totpSecretContext(row.id))).toBe(secret);
    return { service, secret };
  }

  const at = (offsetSteps = 0) => Math.floor(clock.now().getTime() / 1000) + offsetSteps * 30;

  it("verifies within ±1 step, not beyond", async () => {
    const { service, secret } = await enrolled("sub-window");
    expect((await service.status("bank-a", "sub-window")).state).toBe("pending");
    expect((await service.verify("bank-a", "sub-window", await generate({ secret, epoch: at(-2) }))).ok).toBe(false);
    expect((await service.verify("bank-a", "sub-window", await generate({ secret, epoch: at(2) }))).ok).toBe(false);
    expect((await service.verify("bank-a", "sub-window", await generate({ secret, epoch: at(-1) }))).ok).toBe(true);
    expect((await service.status("bank-a", "sub-window")).state).toBe("enrolled");
    expect((await service.verify("bank-a", "sub-window", await generate({ secret, epoch: at(1) }))).ok).toBe(true);
  });

  it("never accepts a time step twice, even concurrently", async () => {
    const { service, secret } = await enrolled("sub-replay");
    const code = await generate({ secret, epoch: at() });
    const results = await Promise.all([service.verify("bank-a", "sub-replay", code), service.verify("bank-a", "sub-replay", code), service.verify("bank-a", "sub-replay", code)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === "replayed")).toHaveLength(2);
    // An earlier step after a later one is also refused.
    clock.advance(30_000);
    expect((await service.verify("bank-a", "sub-replay", await generate({ secret, epoch: at(-2) }))).ok).toBe(false);
  });

  it("locks for 15 minutes after 5 failures in a row", async () => {
    const { service, secret } = await enrolled("sub-lock");
    for (let i = 1; i <= 4; i++) expect(await service.verify("bank-a", "sub-lock", "000000")).toMatchObject({ ok: false, reason: "invalid", failures: i });
    const locked = await service.verify("bank-a", "sub-lock", "abc");
    expect(locked).toMatchObject({ ok: false, reason: "locked" });
    const until = (locked as { lockedUntil: Date }).lockedUntil;
    expect(Math.abs(until.getTime() - clock.now().getTime() - 15 * 60_000)).toBeLessThan(1000);
    expect(await service.verify("bank-a", "sub-lock", await generate({ secret, epoch: at() }))).toMatchObject({ ok: false, reason: "locked" });
    clock.advance(15 * 60_000 + 1000);
    expect((await service.verify("bank-a", "sub-lock", await generate({ secret, epoch: at() }))).ok).toBe(true);
  });

  it("makes one secret per link attempt: a reload shows it again without a write, a new attempt replaces it", async () => {
    const service = totp();
    const labels = { issuer: "Bank A", account: "Bank A customer" };
    const secretOf = (e: { otpauthUri: string }) => new URL(e.otpauthUri).searchParams.get("secret");
    // Concurrent first views of one attempt all show the one secret that is stored.
    const first = await Promise.all([1, 2, 3].map(() => service.enrol("bank-a", "sub-reload", "attempt-1", labels)));
    const row = await db.prisma.totpFactor.findUniqueOrThrow({ where: { clientId_subject: { clientId: "bank-a", subject: "sub-reload" } } });
    const stored = sealer.unseal(row.secretSealed, totpSecretContext(row.id));
    expect(first.map(secretOf)).toEqual([stored, stored, stored]);
    clock.advance(1000);
    for (let i = 0; i < 3; i++) expect(secretOf(await service.enrol("bank-a", "sub-reload", "attempt-1", labels))).toBe(stored);
    const after = await db.prisma.totpFactor.findUniqueOrThrow({ where: { id: row.id } });
    expect(after.updatedAt).toEqual(row.updatedAt);
    expect(after.secretSealed).toBe(row.secretSealed);
    const next = secretOf(await service.enrol("bank-a", "sub-reload", "attempt-2", labels));
    expect(next).not.toBe(stored);
    expect(sealer.unseal((await db.prisma.totpFactor.findUniqueOrThrow({ where: { id: row.id } })).secretSealed, totpSecretContext(row.id))).toBe(next);
  });

  it("keeps factors per bank client", async () => {
    const { secret } = await enrolled("sub-shared");
    expect(await totp().verify("bank-b", "sub-shared", await generate({ secret, epoch: at() }))).toMatchObject({ ok: false, reason: "not_enrolled" });
  });
});

describe("/link/2fa over HTTP", () => {
  let env: LinkingEnv;
  let client: SeededClient;
  beforeAll(async () => {
    env = await startLinkingEnv({ deps: "real" });
    client = await env.seedClient();
  });
  afterAll(() => env?.close());

  async function atSecondFactor(psid: string, username = "alice") {
    const start = await openLink(env, { clientId: client.id, psid });
    const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!, username);
    expect((await start.jar.fetch(callback)).status).toBe(303);
    const page = await start.jar.fetch(`${env.brokerUrl}/link/2fa`);
    expect(page.status).toBe(200);
    const html = await page.text();
    return { ...start, html, csrf: csrfOf(html) };
  }

  it("enrols, verifies, refuses a replayed code on the next link, then locks after 5 failures", async () => {
    const first = await atSecondFactor("psid-t1");
    const secret = totpSecretOf(first.html)!;
    const code = await totpCode(secret, env.clock.now());
    const ok = await postForm(first.jar, `${env.brokerUrl}/link/2fa`, { code, csrf: first.csrf });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/link/consent");

    // Second link, same customer: no enrolment, and the same code is refused.
    const second = await atSecondFactor("psid-t2");
    expect(totpSecretOf(second.html)).toBeUndefined();
    expect(second.html).toContain("Enter your security code");
    const replay = await postForm(second.jar, `${env.brokerUrl}/link/2fa`, { code, csrf: second.csrf });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("already used");

    // The next step's code passes (±1 step).
    const next = await postForm(second.jar, `${env.brokerUrl}/link/2fa`, { code: await totpCode(secret, env.clock.now(), 1), csrf: second.csrf });
    expect(next.status).toBe(303);

    // Third link: 5 wrong codes lock the factor and fail the attempt.
    env.clock.advance(90_000);
    const third = await atSecondFactor("psid-t3");
    for (let i = 0; i < 3; i++) expect((await postForm(third.jar, `${env.brokerUrl}/link/2fa`, { code: "000000", csrf: third.csrf })).status).toBe(400);
    const locked = [];
    for (let i = 0; i < 2; i++) locked.push(await postForm(third.jar, `${env.brokerUrl}/link/2fa`, { code: "123 456", csrf: third.csrf }));
    const last = locked.at(-1)!;
    expect(last.status).toBe(429);
    // Answered like any rate limit: when to retry, and the policy (five codes, then 15 minutes locked).
    expect(last.headers.get("retry-after")).toBe("900");
    expect(last.headers.get("ratelimit-policy")).toBe('"second-factor";q=5;w=900');
    expect(last.headers.get("ratelimit")).toBe('"second-factor";r=0;t=900');
    const body = await last.text();
    expect(body).toMatch(/locked until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(body).toContain("Return to Messenger");
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-t3" } })).state).toBe("failed");

    // While locked, a new attempt stops at the second factor with the same page.
    const fourth = await openLink(env, { clientId: client.id, psid: "psid-t4" });
    const callback = await bankLogin(env, fourth.jar, fourth.response.headers.get("location")!);
    expect((await fourth.jar.fetch(callback)).status).toBe(303);
    const refused = await fourth.jar.fetch(`${env.brokerUrl}/link/2fa`);
    expect(refused.status).toBe(429);
    expect(await refused.text()).toMatch(/locked until/);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-t4" } })).state).toBe("failed");
    void secret;
  });

  it("shows one enrolment secret per attempt on every reload, and limits how often the page is drawn", async () => {
    const a = await atSecondFactor("psid-reload", "bob");
    const secret = totpSecretOf(a.html);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      const page = await a.jar.fetch(`${env.brokerUrl}/link/2fa`);
      statuses.push(page.status);
      const html = await page.text();
      if (page.status === 200) expect(totpSecretOf(html)).toBe(secret);
      else expect(html).toContain("opened too many times");
    }
    // 20 views per attempt per 5 minutes (the first was atSecondFactor's).
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    expect(statuses.slice(19)).toEqual([429, 429, 429]);
    // The attempt is not failed by the limit: after the window it goes on with the same secret.
    env.clock.advance(5 * 60_000 + 1000);
    const again = await a.jar.fetch(`${env.brokerUrl}/link/2fa`);
    expect(again.status).toBe(200);
    expect(totpSecretOf(await again.text())).toBe(secret);
  });

  it("refuses a form without its CSRF token or with another attempt's", async () => {
    const a = await atSecondFactor("psid-csrf-a", "bob");
    const b = await atSecondFactor("psid-csrf-b", "bob");
    expect((await postForm(a.jar, `${env.brokerUrl}/link/2fa`, { code: "123456" })).status).toBe(403);
    expect((await postForm(a.jar, `${env.brokerUrl}/link/2fa`, { code: "123456", csrf: b.csrf })).status).toBe(403);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-csrf-a" } })).state).toBe("authenticated");
  });

  it("rate-limits code submissions per attempt", async () => {
    const a = await atSecondFactor("psid-rate", "bob");
    // Wrong codes lock the factor at 5 and end the attempt; the limiter still counts every post.
    const responses = [];
    for (let i = 0; i < 12; i++) responses.push(await postForm(a.jar, `${env.brokerUrl}/link/2fa`, { code: "xx", csrf: a.csrf }));
    expect(responses.map((r) => r.status)).toEqual([400, 400, 400, 400, 429, 409, 409, 409, 409, 409, 429, 429]);
    expect(await responses.at(-1)!.text()).toContain("Too many codes were tried");
  });
});
