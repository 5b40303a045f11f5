// The token endpoint's grants, one decision at a time: each test is a check whose removal the
// integration suite did not notice (mutation testing). The repository is in memory with the
// database's rules (a code is consumed once, a refresh token rotates once, revoking a grant
// revokes its tokens); the integration tests (oauth-code, refresh-lifetime) run the same grants
// on PGlite and Postgres.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashToken } from "../../../crypto/hash.ts";
import { checkCodeChallenge, checkPkce } from "../../checks/check-pkce.ts";
import type { ClientRow } from "../../clients/client-repo.ts";
import { createAccessTokens } from "../access-token.ts";
import type { TokenServiceDeps } from "../token-service.ts";
import type { GrantRow, NewAccessToken, NewRefreshToken, RefreshRow, TokensRepo } from "../tokens-repo.ts";
import { createGrantHandlers } from "./grant-types.ts";

const VERIFIER = "v".repeat(43);
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");
const DAY = 86_400_000;

interface CodeRow {
  codeHash: string;
  clientId: string;
  linkId: string | null;
  consentId: string | null;
  subject: string;
  scopes: string[];
  codeChallenge: string;
  expiresAt: Date;
  consumedAt: Date | null;
  grantId: string | null;
}

/** The tokens repository's rules, in memory. */
function memoryRepo(standing: (consentId: string, linkId: string | null) => { consentActive: boolean; linkHolds: boolean }) {
  const codes = new Map<string, CodeRow>();
  const grants = new Map<string, GrantRow & { revokedReason?: string }>();
  const refresh = new Map<string, RefreshRow>();
  const access = new Map<string, NewAccessToken & { revokedAt: Date | null }>();
  /** Set by a test: the next exchange finds the code taken by another exchange first. */
  let raceWinner: (GrantRow & { revokedReason?: string }) | undefined;
  const repo = {
    findCode: async (h: string) => codes.get(h) ?? null,
    findStanding: async (consentId: string, linkId: string | null) => {
      const { consentActive, linkHolds } = standing(consentId, linkId);
      return { consent: { status: consentActive ? "active" : "withdrawn", expiresAt: new Date(0) }, linkHolds };
    },
    findCodeWithConsent: async (h: string) => {
      const code = codes.get(h);
      return code ? { code, consent: code.consentId ? { status: "active", expiresAt: new Date(0) } : null } : null;
    },
    findRefreshWithGrant: async (h: string) => {
      const r = refresh.get(h);
      const grant = grants.get(r?.grantId ?? "") ?? null;
      return r ? { refresh: r, grant, consent: grant?.consentId ? { status: "active", expiresAt: new Date(0) } : null } : null;
    },
    async exchangeCode(h: string, now: Date, grant: Omit<GrantRow, "revokedAt">, a: NewAccessToken, r: NewRefreshToken) {
      const code = codes.get(h)!;
      if (raceWinner) {
        grants.set(raceWinner.id, raceWinner);
        Object.assign(code, { consumedAt: now, grantId: raceWinner.id });
        raceWinner = undefined;
      }
      if (code.consumedAt) return false;
      Object.assign(code, { consumedAt: now, grantId: grant.id });
      grants.set(grant.id, { ...grant, revokedAt: null });
      access.set(a.jti, { ...a, revokedAt: null });
      refresh.set(r.tokenHash, { ...r, rotatedAt: null, revokedAt: null, createdAt: now });
      return true;
    },
    async setRefreshExpiry(h: string, expiresAt: Date) {
      refresh.get(h)!.expiresAt = expiresAt;
    },
    async rotateRefresh(used: string, now: Date, a: NewAccessToken, next: NewRefreshToken) {
      const r = refresh.get(used)!;
      if (r.rotatedAt || r.revokedAt) return false;
      r.rotatedAt = now;
      access.set(a.jti, { ...a, revokedAt: null });
      refresh.set(next.tokenHash, { ...next, rotatedAt: null, revokedAt: null, createdAt: now });
      return true;
    },
    // ROTATE_FIRST_USE's rules: rotates only a live, unbound, unused token of the client, by the
    // ledger's rule on its consent row (or its own expiry without one), and answers what it read.
    async rotateFirstUse(h: string, now: Date, clientId: string, a: { jti: string; expiresAt: Date }, nextHash: string) {
      const found = await repo.findRefreshWithGrant(h);
      if (!found) return null;
      const { refresh: r, grant, consent } = found;
      const read = { ...found, refresh: { ...r } };
      const consentLive = consent !== null && consent.status !== "withdrawn" && consent.status !== "expired" && consent.expiresAt > now;
      const until = grant?.consentId ? (consentLive ? consent!.expiresAt : undefined) : r.expiresAt > now ? r.expiresAt : undefined;
      if (r.clientId !== clientId || r.revokedAt || r.rotatedAt || r.dpopJkt || !grant || grant.revokedAt || !until) return { ...read, rotated: false };
      r.rotatedAt = now;
      access.set(a.jti, { jti: a.jti, grantId: grant.id, clientId, expiresAt: a.expiresAt, revokedAt: null });
      refresh.set(nextHash, { tokenHash: nextHash, grantId: grant.id, clientId, dpopJkt: null, expiresAt: until, rotatedAt: null, revokedAt: null, createdAt: now });
      return { ...read, rotated: true };
    },
    async saveAccessToken(a: NewAccessToken) {
      access.set(a.jti, { ...a, revokedAt: null });
    },
    async revokeGrant(id: string, reason: string, now: Date) {
      const g = grants.get(id);
      if (g && !g.revokedAt) Object.assign(g, { revokedAt: now, revokedReason: reason });
      for (const r of refresh.values()) if (r.grantId === id && !r.revokedAt) r.revokedAt = now;
      for (const a of access.values()) if (a.grantId === id && !a.revokedAt) a.revokedAt = now;
    },
  };
  return { repo, codes, grants, refresh, access, loseNextExchangeTo: (g: GrantRow) => (raceWinner = g) };
}

function setup(options: { consentActive?: boolean; linkActive?: boolean; consentUntil?: Date | undefined } = {}) {
  let now = new Date("2026-06-01T12:00:00Z");
  const clock = { now: () => now };
  const linkChecks: [string | null, string][] = [];
  // The code exchange's read after its grant is written: here the test decides what it finds.
  const mem = memoryRepo((consentId, linkId) => {
    linkChecks.push([linkId, consentId]);
    return { consentActive: options.consentActive ?? true, linkHolds: options.linkActive ?? true };
  });
  let consentUntil = "consentUntil" in options ? options.consentUntil : new Date(now.getTime() + 90 * DAY);
  const deps: TokenServiceDeps = {
    repo: mem.repo as unknown as TokensRepo,
    // A signer that shows the claims: the grants' choices are in them.
    accessTokens: createAccessTokens({ keyStore: { signer: { sign: async (c: Record<string, unknown>) => JSON.stringify(c) }, verify: async () => undefined } as never, issuer: "https://broker.example", clock }),
    clock,
    // The ledger's rule over the consent row read with the code or token; here the test decides.
    consentUntil: (row) => (row?.status === "active" ? consentUntil : undefined),
  };
  const handlers = createGrantHandlers(deps);
  const client = (id = "bank-a", grantTypes = ["authorization_code", "refresh_token", "client_credentials"]) =>
    ({ id, grantTypes, scopes: ["balance:read", "alerts:fraud", "ledger:check"] }) as unknown as ClientRow;
  const addCode = (code: string, row: Partial<CodeRow> = {}) =>
    mem.codes.set(hashToken(code), { codeHash: hashToken(code), clientId: "bank-a", linkId: "link-1", consentId: "consent-1", subject: "sub-1", scopes: ["balance:read", "alerts:fraud"], codeChallenge: CHALLENGE, expiresAt: new Date(now.getTime() + 60_000), consumedAt: null, grantId: null, ...row });
  const exchange = (code: unknown, opts: { client?: ClientRow; verifier?: unknown; jkt?: string } = {}) =>
    handlers.authorization_code!({ client: opts.client ?? client(), body: { grant_type: "authorization_code", code, code_verifier: "verifier" in opts ? opts.verifier : VERIFIER }, jkt: opts.jkt });
  const refreshWith = (token: unknown, opts: { client?: ClientRow; scope?: unknown; jkt?: string } = {}) =>
    handlers.refresh_token!({ client: opts.client ?? client(), body: { grant_type: "refresh_token", refresh_token: token, scope: opts.scope }, jkt: opts.jkt });
  const claimsOf = (token: string) => JSON.parse(token) as Record<string, unknown> & { cnf?: { jkt: string } };
  return { mem, handlers, setConsentUntil: (d: Date | undefined) => (consentUntil = d), client, addCode, exchange, refreshWith, claimsOf, linkChecks, now: () => now, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

const grantError = (code: string, message?: string | RegExp) => ({ code, ...(message ? { message: typeof message === "string" ? message : expect.stringMatching(message) } : {}) });

describe("authorization_code", () => {
  it("issues tokens for the code's link, consent, subject and scopes, and writes the grant", async () => {
    const t = setup();
    t.addCode("c1");
    const res = await t.exchange("c1");
    expect(res).toMatchObject({ token_type: "Bearer", expires_in: 600, scope: "balance:read alerts:fraud" });
    expect(t.claimsOf(res.access_token)).toMatchObject({ client_id: "bank-a", sub: "sub-1", link_id: "link-1", consent_id: "consent-1", scope: "balance:read alerts:fraud" });
    const [grant] = [...t.mem.grants.values()];
    expect(grant).toMatchObject({ clientId: "bank-a", linkId: "link-1", consentId: "consent-1", subject: "sub-1", scopes: ["balance:read", "alerts:fraud"], dpopJkt: null, revokedAt: null });
    const rt = t.mem.refresh.get(hashToken(res.refresh_token!))!;
    expect(rt).toMatchObject({ grantId: grant!.id, clientId: "bank-a", dpopJkt: null });
    // The refresh token ends with the consent.
    expect(rt.expiresAt.getTime()).toBe(t.now().getTime() + 90 * DAY);
    const [at] = [...t.mem.access.values()];
    expect(at).toMatchObject({ grantId: grant!.id, clientId: "bank-a", jti: t.claimsOf(res.access_token).jti });
    expect(at!.expiresAt.getTime()).toBe((t.claimsOf(res.access_token).exp as number) * 1000);
    expect(t.linkChecks).toEqual([["link-1", "consent-1"]]);
  });

  it("binds the grant and both tokens to a DPoP key", async () => {
    const t = setup();
    t.addCode("c1");
    const res = await t.exchange("c1", { jkt: "thumb" });
    expect(res.token_type).toBe("DPoP");
    expect(t.claimsOf(res.access_token).cnf).toEqual({ jkt: "thumb" });
    expect([...t.mem.grants.values()][0]!.dpopJkt).toBe("thumb");
    expect(t.mem.refresh.get(hashToken(res.refresh_token!))!.dpopJkt).toBe("thumb");
  });

  it("gives a code without a consent a refresh token of 30 days, and asks no link", async () => {
    const t = setup({ consentUntil: undefined });
    t.addCode("c1", { consentId: null, linkId: null });
    const res = await t.exchange("c1");
    expect(t.mem.refresh.get(hashToken(res.refresh_token!))!.expiresAt.getTime()).toBe(t.now().getTime() + 30 * DAY);
    expect(t.linkChecks).toEqual([]);
  });

  it("refuses a client not registered for the grant, and a missing code", async () => {
    const t = setup();
    t.addCode("c1");
    await expect(t.exchange("c1", { client: t.client("bank-a", ["refresh_token"]) })).rejects.toMatchObject(grantError("unauthorized_client", "this client is not registered for authorization_code"));
    for (const code of [undefined, "", 42]) await expect(t.exchange(code)).rejects.toMatchObject(grantError("invalid_request", "code is required"));
    await expect(t.exchange("unknown")).rejects.toMatchObject(grantError("invalid_grant", "authorization code is invalid"));
    expect(t.mem.codes.get(hashToken("c1"))!.consumedAt).toBeNull();
  });

  it("refuses another client's code without using it up", async () => {
    const t = setup();
    t.addCode("c1");
    await expect(t.exchange("c1", { client: t.client("bank-b") })).rejects.toMatchObject(grantError("invalid_grant", "authorization code was issued to another client"));
    expect((await t.exchange("c1")).access_token).toBeTruthy();
  });

  it("refuses a code at the instant it expires, and takes it a millisecond before", async () => {
    const t = setup();
    t.addCode("c1", { expiresAt: t.now() });
    await expect(t.exchange("c1")).rejects.toMatchObject(grantError("invalid_grant", "authorization code has expired"));
    t.addCode("c2", { expiresAt: new Date(t.now().getTime() + 1) });
    expect((await t.exchange("c2")).access_token).toBeTruthy();
  });

  it("checks the PKCE verifier before using the code up", async () => {
    const t = setup();
    t.addCode("c1");
    await expect(t.exchange("c1", { verifier: "w".repeat(43) })).rejects.toMatchObject(grantError("invalid_grant", "PKCE verification failed"));
    await expect(t.exchange("c1", { verifier: undefined })).rejects.toMatchObject(grantError("invalid_grant", "code_verifier is required"));
    expect((await t.exchange("c1")).access_token).toBeTruthy();
  });

  it("revokes what a code issued when its client presents it again, but not when another client does", async () => {
    const t = setup();
    t.addCode("c1");
    await t.exchange("c1");
    const grant = [...t.mem.grants.values()][0]!;
    await expect(t.exchange("c1", { client: t.client("bank-b") })).rejects.toMatchObject(grantError("invalid_grant", "authorization code was already used"));
    expect(grant.revokedAt).toBeNull();
    await expect(t.exchange("c1")).rejects.toMatchObject(grantError("invalid_grant", "authorization code was already used"));
    expect(grant).toMatchObject({ revokedAt: t.now(), revokedReason: "code_replayed" });
    expect([...t.mem.refresh.values()].every((r) => r.revokedAt)).toBe(true);
  });

  it("treats a lost race for the code as a replay: the winner's grant is revoked", async () => {
    const t = setup();
    t.addCode("c1");
    const winner = { id: "winner", clientId: "bank-a", linkId: "link-1", consentId: "consent-1", subject: "sub-1", scopes: [], dpopJkt: null, revokedAt: null };
    t.mem.loseNextExchangeTo(winner);
    await expect(t.exchange("c1")).rejects.toMatchObject(grantError("invalid_grant", "authorization code was already used"));
    expect(t.mem.grants.get("winner")).toMatchObject({ revokedReason: "code_replayed" });
  });

  it("treats a lost race as a replay even when the code is gone by the time it is read again", async () => {
    const t = setup();
    t.addCode("c1");
    t.mem.repo.exchangeCode = async () => {
      t.mem.codes.clear();
      return false;
    };
    await expect(t.exchange("c1")).rejects.toMatchObject(grantError("invalid_grant", "authorization code was already used"));
  });

  it("asks the link only about a code that carries both a link and a consent", async () => {
    const t = setup({ linkActive: false });
    t.addCode("c1", { consentId: null });
    expect((await t.exchange("c1")).access_token).toBeTruthy();
    expect(t.linkChecks).toEqual([]);
  });

  it("revokes the new grant when the consent or the link ended before the exchange", async () => {
    for (const [options, reason, message] of [
      [{ consentActive: false }, "consent_inactive", "consent is no longer active"],
      [{ linkActive: false }, "link_inactive", "the link is no longer active"],
    ] as const) {
      const t = setup(options);
      t.addCode("c1");
      await expect(t.exchange("c1")).rejects.toMatchObject(grantError("invalid_grant", message));
      const grant = [...t.mem.grants.values()][0]!;
      expect(grant).toMatchObject({ revokedReason: reason });
      expect([...t.mem.refresh.values(), ...t.mem.access.values()].every((r) => r.revokedAt)).toBe(true);
    }
  });
});

describe("refresh_token", () => {
  async function linked(options: Parameters<typeof setup>[0] = {}, jkt?: string) {
    const t = setup(options);
    t.addCode("c1");
    const res = await t.exchange("c1", { jkt });
    return { ...t, rt: res.refresh_token!, grant: [...t.mem.grants.values()][0]! };
  }

  it("rotates: a new refresh token as long as the consent, the old one spent", async () => {
    const t = await linked();
    t.advance(DAY);
    const res = await t.refreshWith(t.rt);
    expect(res).toMatchObject({ token_type: "Bearer", scope: "balance:read alerts:fraud" });
    expect(res.refresh_token).not.toBe(t.rt);
    expect(t.mem.refresh.get(hashToken(t.rt))!.rotatedAt).toEqual(t.now());
    const next = t.mem.refresh.get(hashToken(res.refresh_token!))!;
    expect(next).toMatchObject({ grantId: t.grant.id, clientId: "bank-a", dpopJkt: null });
    expect(next.expiresAt.getTime()).toBe(t.now().getTime() + 89 * DAY);
    expect(t.claimsOf(res.access_token)).toMatchObject({ sub: "sub-1", link_id: "link-1", consent_id: "consent-1", client_id: "bank-a" });
    const saved = [...t.mem.access.values()].find((a) => a.jti === t.claimsOf(res.access_token).jti)!;
    expect(saved).toMatchObject({ grantId: t.grant.id, clientId: "bank-a" });
    expect(saved.expiresAt.getTime()).toBe((t.claimsOf(res.access_token).exp as number) * 1000);
  });

  it("refuses a client not registered for it, a missing token, an unknown one and another client's", async () => {
    const t = await linked();
    await expect(t.refreshWith(t.rt, { client: t.client("bank-a", ["authorization_code"]) })).rejects.toMatchObject(grantError("unauthorized_client", "this client is not registered for refresh_token"));
    for (const token of [undefined, "", 7]) await expect(t.refreshWith(token)).rejects.toMatchObject(grantError("invalid_request", "refresh_token is required"));
    await expect(t.refreshWith("unknown")).rejects.toMatchObject(grantError("invalid_grant", "refresh token is invalid"));
    await expect(t.refreshWith(t.rt, { client: t.client("bank-b") })).rejects.toMatchObject(grantError("invalid_grant", "refresh token is invalid"));
    // Another client's attempt spends nothing.
    expect((await t.refreshWith(t.rt)).access_token).toBeTruthy();
  });

  it("refuses a revoked token and a revoked grant", async () => {
    const t = await linked();
    t.mem.refresh.get(hashToken(t.rt))!.revokedAt = t.now();
    await expect(t.refreshWith(t.rt)).rejects.toMatchObject(grantError("invalid_grant", "refresh token was revoked"));
    const u = await linked();
    u.grant.revokedAt = u.now();
    await expect(u.refreshWith(u.rt)).rejects.toMatchObject(grantError("invalid_grant", "grant was revoked"));
    u.mem.grants.delete(u.grant.id);
    await expect(u.refreshWith(u.rt)).rejects.toMatchObject(grantError("invalid_grant", "grant was revoked"));
  });

  it("revokes the whole grant when a spent token comes back", async () => {
    const t = await linked();
    await t.refreshWith(t.rt);
    await expect(t.refreshWith(t.rt)).rejects.toMatchObject(grantError("invalid_grant", "refresh token was already used; the grant is revoked"));
    expect(t.grant).toMatchObject({ revokedReason: "refresh_token_reused" });
  });

  it("revokes the grant when a rotation loses to a simultaneous one", async () => {
    const t = await linked();
    const rotate = t.mem.repo.rotateRefresh;
    t.mem.repo.rotateRefresh = async () => false;
    await expect(t.refreshWith(t.rt)).rejects.toMatchObject(grantError("invalid_grant", "refresh token was already used; the grant is revoked"));
    t.mem.repo.rotateRefresh = rotate;
    expect(t.grant).toMatchObject({ revokedReason: "refresh_token_reused" });
  });

  it("asks the consent each time: ended at this instant, or unknown, ends the grant", async () => {
    for (const ended of ["now", "unknown"] as const) {
      const t = await linked();
      t.setConsentUntil(ended === "now" ? t.now() : undefined);
      await expect(t.refreshWith(t.rt)).rejects.toMatchObject(grantError("invalid_grant", "consent is no longer active"));
      expect(t.grant).toMatchObject({ revokedReason: "consent_inactive" });
    }
  });

  it("refuses an expired token as expired, without ending the grant, though it was spent or its grant is gone", async () => {
    const t = setup({ consentUntil: undefined });
    t.addCode("c1", { consentId: null, linkId: null });
    const first = (await t.exchange("c1")).refresh_token!;
    await t.refreshWith(first);
    const spent = t.mem.refresh.get(hashToken(first))!;
    spent.expiresAt = t.now();
    await expect(t.refreshWith(first)).rejects.toMatchObject(grantError("invalid_grant", "refresh token has expired"));
    const grant = [...t.mem.grants.values()][0]!;
    expect(grant.revokedAt).toBeNull();
    t.mem.grants.clear();
    await expect(t.refreshWith(first)).rejects.toMatchObject(grantError("invalid_grant", "refresh token has expired"));
  });

  it("lets a consent keep a refresh token alive past the token's own expiry", async () => {
    const t = await linked();
    t.mem.refresh.get(hashToken(t.rt))!.expiresAt = t.now();
    expect((await t.refreshWith(t.rt)).refresh_token).toBeTruthy();
  });

  it("without a consent, the token's own expiry decides, to the instant", async () => {
    const t = setup({ consentUntil: undefined });
    t.addCode("c1", { consentId: null, linkId: null });
    const res = await t.exchange("c1");
    const row = t.mem.refresh.get(hashToken(res.refresh_token!))!;
    row.expiresAt = new Date(t.now().getTime() + 1);
    const next = await t.refreshWith(res.refresh_token);
    const nextRow = t.mem.refresh.get(hashToken(next.refresh_token!))!;
    expect(nextRow.expiresAt).toEqual(row.expiresAt);
    nextRow.expiresAt = t.now();
    await expect(t.refreshWith(next.refresh_token)).rejects.toMatchObject(grantError("invalid_grant", "refresh token has expired"));
    expect([...t.mem.grants.values()][0]!.revokedAt).toBeNull();
  });

  it("narrows scopes on request and refuses one not granted", async () => {
    const t = await linked();
    const res = await t.refreshWith(t.rt, { scope: "alerts:fraud" });
    expect(res.scope).toBe("alerts:fraud");
    expect(t.claimsOf(res.access_token).scope).toBe("alerts:fraud");
    await expect(t.refreshWith(res.refresh_token, { scope: "ledger:check" })).rejects.toMatchObject(grantError("invalid_scope"));
  });

  it("names the client as subject when the grant has none", async () => {
    const t = await linked();
    t.grant.subject = null;
    expect(t.claimsOf((await t.refreshWith(t.rt)).access_token).sub).toBe("bank-a");
  });

  it("keeps a DPoP-bound token: the same key is required, it is not rotated, and it follows the consent's expiry", async () => {
    const t = await linked({}, "thumb");
    await expect(t.refreshWith(t.rt)).rejects.toMatchObject(grantError("invalid_dpop_proof", "this refresh token is DPoP-bound: a DPoP proof is required"));
    await expect(t.refreshWith(t.rt, { jkt: "other" })).rejects.toMatchObject(grantError("invalid_dpop_proof", "DPoP proof key does not match the refresh token"));
    const res = await t.refreshWith(t.rt, { jkt: "thumb" });
    expect(res.refresh_token).toBeUndefined();
    expect(res.token_type).toBe("DPoP");
    expect(t.claimsOf(res.access_token).cnf).toEqual({ jkt: "thumb" });
    expect([...t.mem.access.values()].some((a) => a.jti === t.claimsOf(res.access_token).jti && a.grantId === t.grant.id)).toBe(true);
    const row = t.mem.refresh.get(hashToken(t.rt))!;
    expect(row.rotatedAt).toBeNull();
    // A renewal moved the consent's expiry: the bound token follows it.
    row.expiresAt = new Date(t.now().getTime() + DAY);
    await t.refreshWith(t.rt, { jkt: "thumb" });
    expect(row.expiresAt.getTime()).toBe(t.now().getTime() + 90 * DAY);
    expect((await t.refreshWith(t.rt, { jkt: "thumb" })).access_token).toBeTruthy();
  });

  it("lets a bearer grant bind later access tokens to DPoP, still rotating the refresh token unbound", async () => {
    const t = await linked();
    const res = await t.refreshWith(t.rt, { jkt: "thumb" });
    expect(res.token_type).toBe("DPoP");
    expect(t.claimsOf(res.access_token).cnf).toEqual({ jkt: "thumb" });
    expect(t.mem.refresh.get(hashToken(res.refresh_token!))!.dpopJkt).toBeNull();
  });
});

describe("client_credentials", () => {
  it("issues the service scopes to a registered client, bound to DPoP when asked", async () => {
    const t = setup();
    const res = await t.handlers.client_credentials!({ client: t.client(), body: { scope: "ledger:check" }, jkt: "thumb" });
    expect(res).toMatchObject({ token_type: "DPoP", scope: "ledger:check" });
    expect(t.claimsOf(res.access_token)).toMatchObject({ sub: "bank-a", client_id: "bank-a", cnf: { jkt: "thumb" } });
    await expect(t.handlers.client_credentials!({ client: t.client("bank-a", ["authorization_code"]), body: { scope: "ledger:check" }, jkt: undefined })).rejects.toMatchObject(grantError("unauthorized_client", "this client is not registered for client_credentials"));
  });
});

describe("PKCE values", () => {
  it("takes a verifier of 43 to 128 unreserved characters, and nothing else", () => {
    const challengeOf = (v: string) => createHash("sha256").update(v).digest("base64url");
    for (const v of ["a".repeat(43), "A-._~9".padEnd(128, "z")]) expect(() => checkPkce(v, challengeOf(v))).not.toThrow();
    for (const v of ["a".repeat(42), "a".repeat(129), `${"a".repeat(42)}!`, `${"a".repeat(43)}\n`, `\n${"a".repeat(43)}`, 43]) {
      expect(() => checkPkce(v, challengeOf(String(v)))).toThrow(/code_verifier is malformed/);
    }
    expect(() => checkPkce("", CHALLENGE)).toThrow(/code_verifier is required/);
  });

  it("takes a challenge of exactly 43 base64url characters", () => {
    expect(checkCodeChallenge(CHALLENGE, "S256")).toBe(CHALLENGE);
    for (const c of [CHALLENGE.slice(1), `${CHALLENGE}A`, `${CHALLENGE.slice(1)}=`, `${CHALLENGE.slice(1)}+`, `x${CHALLENGE}`, 43]) {
      expect(() => checkCodeChallenge(c, "S256")).toThrow(/code_challenge must be/);
    }
  });
});
