// The signature check behind every checkpoint and receipt: only a JWS of the expected type, signed
// by a published ledger key with that key's algorithm, inside the key's active window, verifies.
import { generateKeyPairSync, type KeyObject, sign as cryptoSign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CHECKPOINT_TYP, KEY_WINDOW_SKEW_S, type LedgerKeySet, publishKeys, signLedgerJws, verifyLedgerJws } from "./ledger-keys.ts";

const TYP = "ledger-checkpoint+jwt";
const ACTIVATED = new Date("2026-03-01T10:00:00.000Z");
const RETIRED = new Date("2026-04-01T10:00:00.000Z");
const s = (d: Date) => Math.floor(d.getTime() / 1000);

function keyPair(kind: "ed25519" | "ec") {
  const { privateKey, publicKey } = kind === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
  return { privateKey, publicJwk: publicKey.export({ format: "jwk" }) as Record<string, unknown> };
}

/** Two keys: k1 (EdDSA) active from ACTIVATED until RETIRED, then k2 (ES256). */
function ledgerKeys() {
  const k1 = keyPair("ed25519");
  const k2 = keyPair("ec");
  const keys = publishKeys([
    { kid: "k1", alg: "EdDSA", publicJwk: k1.publicJwk, activatedAt: ACTIVATED },
    { kid: "k2", alg: "ES256", publicJwk: k2.publicJwk, activatedAt: RETIRED },
  ]);
  const sign = (key: KeyObject, header: { alg: string; kid: string; typ?: string }, payload: Record<string, unknown>) => signLedgerJws(key, { typ: TYP, ...header }, payload);
  return { keys, k1: k1.privateKey, k2: k2.privateKey, sign };
}

/** A compact JWS over raw header and payload text, signed as `sign` says (any algorithm, any key). */
function forge(header: Record<string, unknown>, payload: unknown, sign: (input: Buffer) => Buffer): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  return `${input}.${sign(Buffer.from(input)).toString("base64url")}`;
}

/** A compact JWS of raw header and payload text, with the signature of another token. */
const raw = (header: string, payload: string, sig = "c2ln") => `${Buffer.from(header).toString("base64url")}.${Buffer.from(payload).toString("base64url")}.${sig}`;

describe("verifyLedgerJws", () => {
  it("verifies EdDSA and ES256 signatures of published keys, returning the kid and payload", async () => {
    const { keys, k1, k2, sign } = ledgerKeys();
    const p1 = { seq: "1", iat: s(ACTIVATED) + 60 };
    expect(verifyLedgerJws(await sign(k1, { alg: "EdDSA", kid: "k1" }, p1), keys, TYP)).toEqual({ kid: "k1", payload: p1 });
    const p2 = { seq: "2", iat: s(RETIRED) + 60 };
    expect(verifyLedgerJws(await sign(k2, { alg: "ES256", kid: "k2" }, p2), keys, TYP)).toEqual({ kid: "k2", payload: p2 });
  });

  it("checks checkpoints under the type LEDGER-FORMAT.md names, which outside verifiers check too", async () => {
    const { keys, k1, sign } = ledgerKeys();
    expect(verifyLedgerJws(await sign(k1, { alg: "EdDSA", kid: "k1", typ: "ledger-checkpoint+jwt" }, { iat: s(ACTIVATED) }), keys, CHECKPOINT_TYP)).not.toBeNull();
  });

  it("refuses a signature that does not match: altered payload, another key, or a key under another kid", async () => {
    const { keys, k1, k2, sign } = ledgerKeys();
    const jws = await sign(k1, { alg: "EdDSA", kid: "k1" }, { seq: "1", iat: s(ACTIVATED) });
    const [h, , sig] = jws.split(".");
    const altered = `${h}.${Buffer.from(JSON.stringify({ seq: "2", iat: s(ACTIVATED) })).toString("base64url")}.${sig}`;
    expect(verifyLedgerJws(altered, keys, TYP)).toBeNull();
    const stranger = keyPair("ed25519").privateKey;
    expect(verifyLedgerJws(await sign(stranger, { alg: "EdDSA", kid: "k1" }, { iat: s(ACTIVATED) }), keys, TYP)).toBeNull();
    // k2's key, claiming to be k2 but in k1's window.
    expect(verifyLedgerJws(await sign(k2, { alg: "ES256", kid: "k2" }, { iat: s(ACTIVATED) + 60 }), keys, TYP)).toBeNull();
  });

  it("refuses another type, an unknown kid, and an algorithm other than the key's", async () => {
    const { keys, k1, k2, sign } = ledgerKeys();
    const payload = { iat: s(ACTIVATED) + 60 };
    expect(verifyLedgerJws(await sign(k1, { alg: "EdDSA", kid: "k1", typ: "consent-receipt+jwt" }, payload), keys, TYP)).toBeNull();
    expect(verifyLedgerJws(await sign(k1, { alg: "EdDSA", kid: "k9" }, payload), keys, TYP)).toBeNull();
    // ES256 named in the header of k1 (an EdDSA key): refused before any signature check.
    expect(verifyLedgerJws(await sign(k2, { alg: "ES256", kid: "k1" }, payload), keys, TYP)).toBeNull();
  });

  it("refuses a header naming another algorithm than its key's, even over that key's valid signature", () => {
    const { keys, k2 } = ledgerKeys();
    const p1363 = (input: Buffer) => cryptoSign("sha256", input, { key: k2, dsaEncoding: "ieee-p1363" });
    const payload = { iat: s(RETIRED) + 60 };
    expect(verifyLedgerJws(forge({ alg: "ES256", kid: "k2", typ: TYP }, payload, p1363), keys, TYP)).not.toBeNull();
    expect(verifyLedgerJws(forge({ alg: "EdDSA", kid: "k2", typ: TYP }, payload, p1363), keys, TYP)).toBeNull();
  });

  it("refuses a key of an algorithm it does not support, even over that key's valid signature", () => {
    const { keys } = ledgerKeys();
    const rs = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsaKey = { ...(rs.publicKey.export({ format: "jwk" }) as Record<string, string>), kid: "k3", alg: "RS256", kty: "RSA", activated_at: ACTIVATED.toISOString(), retired_at: null };
    const signed = forge({ alg: "RS256", kid: "k3", typ: TYP }, { iat: s(ACTIVATED) + 60 }, (input) => cryptoSign("sha256", input, rs.privateKey));
    expect(verifyLedgerJws(signed, { keys: [...keys.keys, rsaKey] }, TYP)).toBeNull();
  });

  it("refuses a validly signed payload that is not an object", () => {
    const { keys, k1 } = ledgerKeys();
    for (const payload of [null, 7, "iat", [s(ACTIVATED)]]) {
      expect(verifyLedgerJws(forge({ alg: "EdDSA", kid: "k1", typ: TYP }, payload, (input) => cryptoSign(null, input, k1)), keys, TYP)).toBeNull();
    }
  });

  it("refuses what is not a compact JWS with JSON objects for header and payload", async () => {
    const { keys, k1, sign } = ledgerKeys();
    const good = await sign(k1, { alg: "EdDSA", kid: "k1" }, { iat: s(ACTIVATED) });
    const header = JSON.stringify({ alg: "EdDSA", kid: "k1", typ: TYP });
    for (const bad of [undefined, 42, "", good.split(".").slice(0, 2).join("."), `${good}.x`, raw("{", "{}"), raw(header, "{"), raw("null", "{}"), raw(header, "null"), raw(header, "7"), raw("7", "{}")]) {
      expect(verifyLedgerJws(bad as string, keys, TYP)).toBeNull();
    }
    expect(verifyLedgerJws(good, keys, TYP)).not.toBeNull();
  });

  it("refuses a published key that is not a usable public key", async () => {
    const { keys, k1, sign } = ledgerKeys();
    const broken: LedgerKeySet = { keys: [{ ...keys.keys[0]!, x: "not-a-key" }] };
    expect(verifyLedgerJws(await sign(k1, { alg: "EdDSA", kid: "k1" }, { iat: s(ACTIVATED) }), broken, TYP)).toBeNull();
  });

  it("needs a numeric iat inside the key's active window, give or take the allowed skew", async () => {
    const { keys, k1, k2, sign } = ledgerKeys();
    const byK1 = async (iat: unknown) => verifyLedgerJws(await sign(k1, { alg: "EdDSA", kid: "k1" }, { iat }), keys, TYP);
    const byK2 = async (iat: unknown) => verifyLedgerJws(await sign(k2, { alg: "ES256", kid: "k2" }, { iat }), keys, TYP);
    expect(await byK1(undefined)).toBeNull();
    expect(await byK1(String(s(ACTIVATED) + 60))).toBeNull();
    expect(await byK1(s(ACTIVATED) - KEY_WINDOW_SKEW_S)).not.toBeNull();
    expect(await byK1(s(ACTIVATED) - KEY_WINDOW_SKEW_S - 1)).toBeNull();
    expect(await byK1(s(RETIRED) + KEY_WINDOW_SKEW_S)).not.toBeNull();
    expect(await byK1(s(RETIRED) + KEY_WINDOW_SKEW_S + 1)).toBeNull();
    // The active key has no end.
    expect(await byK2(s(RETIRED) + 10 * 365 * 86_400)).not.toBeNull();
    expect(await byK2(s(RETIRED) - KEY_WINDOW_SKEW_S - 1)).toBeNull();
  });

  it("keeps each key it built in the cache it is given, and uses it", async () => {
    const { keys, k1, sign } = ledgerKeys();
    const jws = await sign(k1, { alg: "EdDSA", kid: "k1" }, { iat: s(ACTIVATED) });
    const cache = new Map<string, KeyObject>();
    expect(verifyLedgerJws(jws, keys, TYP, cache)).not.toBeNull();
    expect([...cache.keys()]).toEqual(["k1"]);
    // A cached key wins over the list: a stale entry is the caller's to drop.
    cache.set("k1", generateKeyPairSync("ed25519").publicKey);
    expect(verifyLedgerJws(jws, keys, TYP, cache)).toBeNull();
  });
});

describe("signLedgerJws", () => {
  it("writes the header it is given and refuses an algorithm other than EdDSA or ES256", async () => {
    const { k1, k2 } = ledgerKeys();
    const jws = await signLedgerJws(k1, { alg: "EdDSA", kid: "k1", typ: TYP }, { a: 1 });
    expect(JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString())).toEqual({ alg: "EdDSA", kid: "k1", typ: TYP });
    expect(JSON.parse(Buffer.from(jws.split(".")[1]!, "base64url").toString())).toEqual({ a: 1 });
    // ES256 signatures are the 64-byte r||s of JWS, not DER.
    expect(Buffer.from((await signLedgerJws(k2, { alg: "ES256", kid: "k2", typ: TYP }, {})).split(".")[2]!, "base64url")).toHaveLength(64);
    await expect(signLedgerJws(k1, { alg: "RS256", kid: "k1", typ: TYP }, {})).rejects.toThrow("unsupported ledger key alg RS256");
    // A key that cannot sign with the named algorithm.
    await expect(signLedgerJws(k1, { alg: "ES256", kid: "k1", typ: TYP }, {})).rejects.toThrow();
  });
});

describe("publishKeys", () => {
  it("publishes each key with its window: retired when the next one activated, the newest still active", () => {
    const { keys } = ledgerKeys();
    expect(keys.keys.map((k) => ({ kid: k.kid, alg: k.alg, use: k.use, activated_at: k.activated_at, retired_at: k.retired_at }))).toEqual([
      { kid: "k1", alg: "EdDSA", use: "sig", activated_at: ACTIVATED.toISOString(), retired_at: RETIRED.toISOString() },
      { kid: "k2", alg: "ES256", use: "sig", activated_at: RETIRED.toISOString(), retired_at: null },
    ]);
    expect(keys.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", x: expect.any(String) });
    expect(keys.keys[0]).not.toHaveProperty("d");
    expect(keys.keys[1]).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(publishKeys([])).toEqual({ keys: [] });
  });
});
