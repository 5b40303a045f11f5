// DPoP proof checks (RFC 9449 §4.3), one at a time: each test is a check whose removal the
// integration suite did not notice (mutation testing). The clock is an hour ahead of real time,
// so a check made against the machine's clock instead of the broker's shows.
import { createHash, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { memoryReplay } from "../../../test/support/memory-replay.ts";
import { createDpopVerifier, DPOP_IAT_WINDOW } from "./check-dpop.ts";

const HTU = "https://broker.example/oauth/token";
type Key = Awaited<ReturnType<typeof generateKeyPair>>;

let key: Key;
let other: Key;
let publicJwk: JWK;
let privateJwk: JWK;

beforeAll(async () => {
  key = await generateKeyPair("ES256", { extractable: true });
  other = await generateKeyPair("ES256", { extractable: true });
  publicJwk = await exportJWK(key.publicKey);
  privateJwk = await exportJWK(key.privateKey);
});

function setup(secret = Buffer.alloc(32, 7)) {
  let now = new Date(Date.now() + 3600_000);
  const clock = { now: () => now };
  const verifier = createDpopVerifier({ replay: memoryReplay(), clock, secret });
  const sec = () => Math.floor(now.getTime() / 1000);
  /** A proof for POST HTU at the broker's now, with `claims` and `header` changed as given. */
  const proof = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signer: Key = key, alg = "ES256") => {
    const body = { htm: "POST", htu: HTU, iat: sec(), jti: randomUUID(), ...claims };
    for (const [k, v] of Object.entries(body)) if (v === undefined) delete (body as Record<string, unknown>)[k];
    return new SignJWT(body).setProtectedHeader({ alg, typ: "dpop+jwt", jwk: publicJwk, ...header } as never).sign(signer.privateKey);
  };
  const verify = (p: string | string[] | undefined, extra: { htm?: string; htu?: string; accessToken?: string; requireNonce?: boolean } = {}) => verifier.verify({ proof: p, htm: "POST", htu: HTU, ...extra });
  return { verifier, proof, verify, sec, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

const refused = (message: string | RegExp) => ({ code: "invalid_dpop_proof", message: typeof message === "string" ? message : expect.stringMatching(message) });

describe("DPoP proof", () => {
  it("returns the thumbprint of the proof's key", async () => {
    const { proof, verify } = setup();
    expect(await verify(await proof())).toEqual({ jkt: await calculateJwkThumbprint(publicJwk, "sha256") });
  });

  it("wants exactly one header of at most 4096 characters", async () => {
    const { proof, verify } = setup();
    const p = await proof();
    await expect(verify([p, p])).rejects.toMatchObject(refused("exactly one DPoP header is allowed"));
    for (const missing of [undefined, ""]) await expect(verify(missing)).rejects.toMatchObject(refused("DPoP proof is missing or too large"));
    // A proof of exactly 4096 characters passes; one more is too large.
    let exact: string | undefined;
    const base = (await proof({ htu: `${HTU}/` })).length;
    // Each 3 characters of htu add 4 to the proof: step near 4096, then one at a time.
    for (let n = Math.max(0, Math.floor(((4096 - base) * 3) / 4) - 6); n < Math.floor(((4096 - base) * 3) / 4) + 6 && !exact; n++) {
      const long = await proof({ htu: `${HTU}/${"p".repeat(n)}` });
      if (long.length === 4096) exact = long;
    }
    expect(exact).toBeDefined();
    const htu = JSON.parse(Buffer.from(exact!.split(".")[1]!, "base64url").toString()).htu as string;
    expect((await verify(exact, { htu })).jkt).toBeTruthy();
    await expect(verify(`${exact}x`, { htu })).rejects.toMatchObject(refused("DPoP proof is missing or too large"));
  });

  it("wants a JWS of type dpop+jwt with an asymmetric algorithm it supports", async () => {
    const { proof, verify, sec } = setup();
    await expect(verify("not-a-jws")).rejects.toMatchObject(refused("DPoP proof is not a JWS"));
    await expect(verify(await proof({}, { typ: "jwt" }))).rejects.toMatchObject(refused("DPoP proof typ must be dpop+jwt"));
    const hs = await new SignJWT({ htm: "POST", htu: HTU, iat: sec(), jti: randomUUID() }).setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: publicJwk } as never).sign(new Uint8Array(32));
    await expect(verify(hs)).rejects.toMatchObject(refused("unsupported DPoP proof alg"));
  });

  it("accepts each algorithm it supports", async () => {
    const { proof, verify } = setup();
    for (const alg of ["ES256", "PS256", "RS256", "EdDSA"]) {
      const k = await generateKeyPair(alg, { extractable: true });
      const p = await proof({}, { jwk: await exportJWK(k.publicKey) }, k, alg);
      expect((await verify(p)).jkt).toBeTruthy();
    }
  });

  it("wants a public key in the header, and a signature made with it", async () => {
    const { proof, verify } = setup();
    const notPublic = refused("DPoP proof must carry a public jwk");
    await expect(verify(await proof({}, { jwk: undefined }))).rejects.toMatchObject(notPublic);
    await expect(verify(await proof({}, { jwk: "key" }))).rejects.toMatchObject(notPublic);
    await expect(verify(await proof({}, { jwk: privateJwk }))).rejects.toMatchObject(notPublic);
    await expect(verify(await proof({}, { jwk: { ...publicJwk, p: "x" } }))).rejects.toMatchObject(notPublic);
    await expect(verify(await proof({}, { jwk: { ...publicJwk, k: "x" } }))).rejects.toMatchObject(notPublic);
    await expect(verify(await proof({}, {}, other))).rejects.toMatchObject(refused("DPoP proof signature is not valid"));
  });

  it("takes an iat up to 60 s either side of the broker's clock", async () => {
    const { proof, verify, sec } = setup();
    const window = refused("DPoP proof iat is outside the accepted window");
    for (const iat of [sec() - DPOP_IAT_WINDOW, sec() + DPOP_IAT_WINDOW]) expect((await verify(await proof({ iat }))).jkt).toBeTruthy();
    for (const iat of [sec() - DPOP_IAT_WINDOW - 1, sec() + DPOP_IAT_WINDOW + 1, Math.floor(Date.now() / 1000), undefined]) {
      await expect(verify(await proof({ iat }))).rejects.toMatchObject(window);
    }
  });

  it("refuses a proof whose exp has passed by the broker's clock, though not by the machine's", async () => {
    const { proof, verify } = setup();
    const exp = Math.floor(Date.now() / 1000) + 1800;
    await expect(verify(await proof({ exp }))).rejects.toMatchObject(refused("DPoP proof signature is not valid"));
  });

  it("wants the request's method and URL, ignoring the URL's query and fragment", async () => {
    const { proof, verify } = setup();
    await expect(verify(await proof({ htm: "GET" }))).rejects.toMatchObject(refused("DPoP proof htm does not match the request method"));
    for (const htu of ["not a url", undefined]) await expect(verify(await proof({ htu }))).rejects.toMatchObject(refused("DPoP proof htu is not a URL"));
    for (const htu of ["https://broker.example/oauth/par", "https://evil.example/oauth/token", "http://broker.example/oauth/token", "https://broker.example:8443/oauth/token"]) {
      await expect(verify(await proof({ htu }))).rejects.toMatchObject(refused("DPoP proof htu does not match the request URL"));
    }
    expect((await verify(await proof({ htu: `${HTU}?a=1#f` }), { htu: `${HTU}?b=2` })).jkt).toBeTruthy();
  });

  it("wants a jti of 8 to 200 characters without control characters", async () => {
    const { proof, verify } = setup();
    const bad = refused("DPoP proof jti is missing");
    for (const jti of [undefined, 12345678, "j".repeat(7), "j".repeat(201), "jjjjjjj\u0000"]) await expect(verify(await proof({ jti }))).rejects.toMatchObject(bad);
    for (const jti of ["j".repeat(8), "k".repeat(200)]) expect((await verify(await proof({ jti }))).jkt).toBeTruthy();
  });

  it("binds the proof to the access token it is sent with (ath)", async () => {
    const { proof, verify } = setup();
    const ath = createHash("sha256").update("the-token").digest("base64url");
    expect((await verify(await proof({ ath }), { accessToken: "the-token" })).jkt).toBeTruthy();
    for (const wrong of [undefined, createHash("sha256").update("another").digest("base64url")]) {
      await expect(verify(await proof({ ath: wrong }), { accessToken: "the-token" })).rejects.toMatchObject(refused("DPoP proof ath does not match the access token"));
    }
    // Where no token is sent (the token endpoint), ath is not asked.
    expect((await verify(await proof({ ath: "anything" }))).jkt).toBeTruthy();
  });

  it("asks for its nonce where required, and takes it for this five-minute period and the one before", async () => {
    const { verifier, proof, verify, advance } = setup();
    const err = await verify(await proof(), { requireNonce: true }).catch((e: { code: string; headers: Record<string, string> }) => e);
    expect(err).toMatchObject({ code: "use_dpop_nonce", message: "Authorization server requires nonce in DPoP proof", headers: { "dpop-nonce": verifier.nonce() } });
    // Sent in a header: the period, a dot and 27 base64url characters of its MAC.
    expect(verifier.nonce()).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{27}$/);
    const nonce = verifier.nonce();
    expect((await verify(await proof({ nonce }), { requireNonce: true })).jkt).toBeTruthy();
    advance(300_000);
    expect(verifier.nonce()).not.toBe(nonce);
    expect((await verify(await proof({ nonce }), { requireNonce: true })).jkt).toBeTruthy();
    advance(300_000);
    await expect(verify(await proof({ nonce }), { requireNonce: true })).rejects.toMatchObject({ code: "use_dpop_nonce" });
  });

  it("checks a nonce it was sent even where none is required, and refuses another server's", async () => {
    const { verifier, proof, verify } = setup();
    const elsewhere = setup(Buffer.alloc(32, 8)).verifier.nonce();
    for (const nonce of [elsewhere, 42, "n".repeat(101)]) await expect(verify(await proof({ nonce }))).rejects.toMatchObject({ code: "use_dpop_nonce" });
    expect((await verify(await proof({ nonce: verifier.nonce() }))).jkt).toBeTruthy();
  });

  it("takes a proof once, for as long as its iat is accepted, per key", async () => {
    const { proof, verify, advance } = setup();
    const jti = randomUUID();
    const p = await proof({ jti });
    await verify(p);
    advance((DPOP_IAT_WINDOW - 2) * 1000);
    await expect(verify(p)).rejects.toMatchObject(refused("DPoP proof jti was already used"));
    // The same jti under another key is another proof.
    const k = await generateKeyPair("ES256", { extractable: true });
    expect((await verify(await proof({ jti }, { jwk: await exportJWK(k.publicKey) }, k))).jkt).toBeTruthy();
  });
});
