// Attack catalogue: authorization codes, refresh tokens, access-token JWTs, DPoP and client
// assertions. Each test is one attack and the refusal the broker must answer.
import { createHash, randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basic, postForm, registerClient, startRunningBroker, type Registered, type RunningBroker } from "../support/oauth.ts";
import { insertLink } from "../support/link-row.ts";

const challengeOf = (v: string) => createHash("sha256").update(v).digest("base64url");
let broker: RunningBroker;
let url: string;
let bank: Registered;
let otherBank: Registered;
let service: Registered;

beforeAll(async () => {
  broker = await startRunningBroker({
    setup: (app) => {
      app.get("/test/resource", { preHandler: app.modules.oauth.requireScope("ledger:check"), config: { errorFormat: "oauth" } }, async (request) => ({ client_id: request.token!.clientId }));
    },
  });
  url = broker.url;
  bank = await registerClient(url, { scope: "balance:read" });
  otherBank = await registerClient(url, { scope: "balance:read" });
  service = await registerClient(url, { grant_types: ["client_credentials"], scope: "ledger:check" });
});
afterAll(() => broker?.close());

async function issueCode(client: Registered, verifier: string) {
  const linkId = randomUUID();
  return broker.db.transaction(async (tx) => {
    const { consentId } = await broker.app.modules.ledger.ledger.grant({ clientId: client.client_id, subject: "customer-1", linkId, psid: linkId, scopes: ["balance:read"], actor: "customer" }, { tx });
    await insertLink(tx, { id: linkId, clientId: client.client_id, subject: "customer-1", psid: linkId, consentId });
    return broker.app.modules.oauth.issueAuthorizationCode(tx, { clientId: client.client_id, linkId, attemptId: randomUUID(), consentId, subject: "customer-1", scopes: ["balance:read"], codeChallenge: challengeOf(verifier) });
  });
}
const auth = (c: Registered) => ({ authorization: basic(c.client_id, c.client_secret!) });
const exchange = (c: Registered, code: string, verifier?: string) => postForm(`${url}/oauth/token`, { grant_type: "authorization_code", code, ...(verifier !== undefined ? { code_verifier: verifier } : {}) }, auth(c));
const introspect = (c: Registered, token: string) => postForm(`${url}/oauth/introspect`, { token }, auth(c));
const serviceToken = async () => (await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, auth(service))).json.access_token as string;
const resource = (token: string) => fetch(`${url}/test/resource`, { headers: { authorization: `Bearer ${token}` } });
const segments = (jwt: string) => jwt.split(".").map((p, i) => (i < 2 ? JSON.parse(Buffer.from(p, "base64url").toString()) : p)) as [Record<string, unknown>, Record<string, unknown>, string];
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("codes", () => {
  it("attack: a code replayed → invalid_grant, and what it issued is revoked", async () => {
    const v = oidc.randomPKCECodeVerifier();
    const code = await issueCode(bank, v);
    const first = await exchange(bank, code, v);
    expect(first.status).toBe(200);
    const again = await exchange(bank, code, v);
    expect(again.json.error).toBe("invalid_grant");
    expect((await introspect(bank, first.json.access_token as string)).json.active).toBe(false);
    expect((await introspect(bank, first.json.refresh_token as string)).json.active).toBe(false);
  });

  it("attack: another client's code → invalid_grant, the code still works for its client", async () => {
    const v = oidc.randomPKCECodeVerifier();
    const code = await issueCode(bank, v);
    expect((await exchange(otherBank, code, v)).json.error).toBe("invalid_grant");
    expect((await exchange(bank, code, v)).status).toBe(200);
  });

  it("attack: PKCE downgrade (no verifier, a wrong one, plain at PAR) → refused", async () => {
    const v = oidc.randomPKCECodeVerifier();
    expect((await exchange(bank, await issueCode(bank, v))).json.error).toBe("invalid_grant");
    expect((await exchange(bank, await issueCode(bank, v), oidc.randomPKCECodeVerifier())).json.error).toBe("invalid_grant");
    expect((await exchange(bank, await issueCode(bank, v), challengeOf(v))).json.error).toBe("invalid_grant");
    const par = await postForm(`${url}/par`, { scope: "balance:read", code_challenge: v, code_challenge_method: "plain" }, auth(bank));
    expect(par.json.error).toBe("invalid_request");
  });
});

describe("refresh tokens", () => {
  it("attack: an old refresh token reused after rotation (theft) → invalid_grant, and the whole grant ends", async () => {
    const v = oidc.randomPKCECodeVerifier();
    const tokens = (await exchange(bank, await issueCode(bank, v), v)).json;
    const rotated = await postForm(`${url}/oauth/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token as string }, auth(bank));
    expect(rotated.status).toBe(200);
    const reuse = await postForm(`${url}/oauth/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token as string }, auth(bank));
    expect(reuse.json.error).toBe("invalid_grant");
    expect((await introspect(bank, rotated.json.refresh_token as string)).json.active).toBe(false);
    expect((await introspect(bank, rotated.json.access_token as string)).json.active).toBe(false);
  });

  it("attack: another client presents a stolen refresh token → invalid_grant, the token's owner keeps it", async () => {
    const v = oidc.randomPKCECodeVerifier();
    const tokens = (await exchange(bank, await issueCode(bank, v), v)).json;
    expect((await postForm(`${url}/oauth/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token as string }, auth(otherBank))).json.error).toBe("invalid_grant");
    expect((await introspect(bank, tokens.refresh_token as string)).json.active).toBe(true);
  });
});

describe("access-token JWTs", () => {
  it("attack: alg none → 401 invalid_token, and inactive at introspection", async () => {
    const [header, payload] = segments(await serviceToken());
    const forged = `${b64({ ...header, alg: "none" })}.${b64(payload)}.`;
    expect((await resource(forged)).status).toBe(401);
    expect((await introspect(service, forged)).json.active).toBe(false);
  });

  it("attack: HS256 signed with the broker's public key as the secret → refused", async () => {
    const [header, payload] = segments(await serviceToken());
    const jwks = (await (await fetch(`${url}/jwks.json`)).json()) as { keys: JWK[] };
    const publicKey = jwks.keys.find((k) => k.kid === header.kid)!;
    for (const secret of [JSON.stringify(publicKey), publicKey.x!]) {
      const forged = await new SignJWT(payload).setProtectedHeader({ ...header, alg: "HS256" }).sign(new TextEncoder().encode(secret));
      expect((await resource(forged)).status).toBe(401);
      expect((await introspect(service, forged)).json.active).toBe(false);
    }
  });

  it("attack: an expired token, or one for another audience, signed with the broker's own key → refused", async () => {
    const [, payload] = segments(await serviceToken());
    const now = Math.floor(Date.now() / 1000);
    for (const claims of [{ ...payload, iat: now - 3600, exp: now - 60 }, { ...payload, aud: "https://other.example" }, { ...payload, iss: "https://evil.example" }]) {
      const forged = await broker.app.modules.keys.keyStore.signer.sign({ ...claims, jti: randomUUID() }, { typ: "at+jwt" });
      expect((await resource(forged)).status).toBe(401);
      expect((await introspect(service, forged)).json.active).toBe(false);
    }
  });

  it("attack: a token signed by an unknown key (kid not published) → refused", async () => {
    const [header, payload] = segments(await serviceToken());
    const { privateKey } = (await generateKeyPair("ES256")) as { privateKey: CryptoKey };
    for (const kid of [header.kid as string, "unknown-kid"]) {
      const forged = await new SignJWT(payload).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid }).sign(privateKey);
      expect((await resource(forged)).status).toBe(401);
    }
  });
});

describe("DPoP", () => {
  let dpopKey: { privateKey: CryptoKey; jwk: JWK };
  let token: string;
  let nonce: string;
  const proof = (claims: Record<string, unknown>, key = dpopKey) =>
    new SignJWT({ jti: randomUUID(), htm: "GET", htu: `${url}/test/resource`, ...claims }).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.jwk }).setIssuedAt().sign(key.privateKey);
  const ath = (t: string) => createHash("sha256").update(t).digest("base64url");
  const call = (dpop: string) => fetch(`${url}/test/resource`, { headers: { authorization: `DPoP ${token}`, dpop } });
  const newKey = async () => {
    const { privateKey, publicKey } = (await generateKeyPair("ES256")) as { privateKey: CryptoKey; publicKey: CryptoKey };
    return { privateKey, jwk: await exportJWK(publicKey) };
  };

  beforeAll(async () => {
    dpopKey = await newKey();
    const tokenProof = (n?: string) => proof({ htm: "POST", htu: `${url}/oauth/token`, ...(n ? { nonce: n } : {}) });
    const first = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { ...auth(service), dpop: await tokenProof() });
    nonce = first.headers.get("dpop-nonce")!;
    const ok = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { ...auth(service), dpop: await tokenProof(nonce) });
    expect(ok.json.token_type).toBe("DPoP");
    token = ok.json.access_token as string;
  });

  it("the honest call works (baseline)", async () => {
    expect((await call(await proof({ ath: ath(token) }))).status).toBe(200);
  });

  it("attack: a proof replayed → refused", async () => {
    const p = await proof({ ath: ath(token) });
    expect((await call(p)).status).toBe(200);
    expect((await call(p)).status).toBe(401);
  });

  it("attack: a proof for another URL (htu) or method (htm) → refused", async () => {
    expect((await call(await proof({ ath: ath(token), htu: `${url}/oauth/introspect` }))).status).toBe(401);
    expect((await call(await proof({ ath: ath(token), htm: "POST" }))).status).toBe(401);
  });

  it("attack: a proof signed by another key than the token's → refused", async () => {
    expect((await call(await proof({ ath: ath(token) }, await newKey()))).status).toBe(401);
  });

  it("attack: a proof without ath (not bound to this token) or with another token's ath → refused", async () => {
    expect((await call(await proof({}))).status).toBe(401);
    expect((await call(await proof({ ath: ath(`${token}x`) }))).status).toBe(401);
  });
});

describe("client assertions", () => {
  let client: string;
  let key: CryptoKey;
  beforeAll(async () => {
    const { privateKey, publicKey } = (await generateKeyPair("ES256")) as { privateKey: CryptoKey; publicKey: CryptoKey };
    key = privateKey;
    const registered = await registerClient(url, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k1" }] }, grant_types: ["client_credentials"], scope: "ledger:check" });
    client = registered.client_id;
  });
  const assertion = (aud: string | string[] = url) =>
    new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(client).setSubject(client).setAudience(aud).setIssuedAt().setExpirationTime("60s").sign(key);
  const tokenWith = (a: string) => postForm(`${url}/oauth/token`, { grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: a });

  it("attack: an assertion replayed (same jti) → invalid_client", async () => {
    const a = await assertion();
    expect((await tokenWith(a)).status).toBe(200);
    expect((await tokenWith(a)).json.error).toBe("invalid_client");
  });

  it("attack: an assertion for another audience → invalid_client", async () => {
    for (const aud of ["https://other-as.example", ["https://other-as.example", url]]) expect((await tokenWith(await assertion(aud))).json.error).toBe("invalid_client");
  });
});
