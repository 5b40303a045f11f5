// The ledger's signing keys, as the ledger sees them: something that signs with the active key,
// and the list of every key ever used. The broker implements it (keys sealed in its database);
// this package only signs through it and verifies against the published list.
import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, type JsonWebKey, type KeyObject } from "node:crypto";

/** Signs a JSON payload as a compact JWS with the active ledger key; the header names its `kid`. */
export interface LedgerSigner {
  sign(payload: Record<string, unknown>, options: { typ: string }): Promise<string>;
}

/** One published ledger key: a public JWK plus when it started and stopped signing. */
export interface LedgerPublicKey {
  kid: string;
  alg: string;
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  use?: string;
  /** ISO 8601: when this key became the active ledger key. */
  activated_at: string;
  /** ISO 8601: when the next key took over; null while it is the active key. */
  retired_at: string | null;
}

/** The JWKS served at GET /ledger/keys.json. */
export interface LedgerKeySet {
  keys: LedgerPublicKey[];
}

export interface LedgerKeys extends LedgerSigner {
  /** Every ledger key ever used, oldest first. */
  published(): Promise<LedgerKeySet>;
}

export const CHECKPOINT_TYP = "ledger-checkpoint+jwt";
/** Clock difference allowed between a signature's `iat` and its key's activation or retirement. */
export const KEY_WINDOW_SKEW_S = 300;

const ALGS: Record<string, string | null> = { EdDSA: null, ES256: "sha256" };

/**
 * Checks a compact JWS against the ledger keys: its `kid` must be a ledger key, its `alg` that
 * key's, its `typ` the one expected, the signature valid, and its `iat` inside the key's active
 * window (give or take KEY_WINDOW_SKEW_S). Returns the payload, or null.
 */
export function verifyLedgerJws(jws: string, keySet: LedgerKeySet, typ: string, cache = new Map<string, KeyObject>()): { kid: string; payload: Record<string, unknown> } | null {
  const parts = typeof jws === "string" ? jws.split(".") : [];
  if (parts.length !== 3) return null;
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8"));
    payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (!header || typeof header !== "object" || !payload || typeof payload !== "object" || header.typ !== typ) return null;
  const jwk = keySet.keys.find((k) => k.kid === header.kid);
  if (!jwk || header.alg !== jwk.alg || !(jwk.alg in ALGS)) return null;
  let key = cache.get(jwk.kid);
  if (!key) {
    try {
      key = createPublicKey({ key: jwk as unknown as JsonWebKey, format: "jwk" });
    } catch {
      return null;
    }
    cache.set(jwk.kid, key);
  }
  const ok = cryptoVerify(ALGS[jwk.alg]!, Buffer.from(`${parts[0]}.${parts[1]}`), jwk.alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key, Buffer.from(parts[2]!, "base64url"));
  if (!ok) return null;
  const iat = payload.iat;
  if (typeof iat !== "number") return null;
  const from = Date.parse(jwk.activated_at) / 1000 - KEY_WINDOW_SKEW_S;
  const until = jwk.retired_at === null ? Number.POSITIVE_INFINITY : Date.parse(jwk.retired_at) / 1000 + KEY_WINDOW_SKEW_S;
  if (!(iat >= from && iat <= until)) return null;
  return { kid: jwk.kid, payload };
}

/** A compact JWS over `payload` with an EdDSA (Ed25519) or ES256 private key. */
export function signLedgerJws(key: KeyObject, header: { alg: string; kid: string; typ: string }, payload: Record<string, unknown>): Promise<string> {
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  const alg = ALGS[header.alg];
  if (alg === undefined) return Promise.reject(new Error(`unsupported ledger key alg ${header.alg}`));
  return new Promise((resolve, reject) =>
    cryptoSign(alg, Buffer.from(input), header.alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key, (err, sig) => (err ? reject(err) : resolve(`${input}.${sig.toString("base64url")}`))),
  );
}

/** The published form of a key list ordered by activation: each retires when the next activates. */
export function publishKeys(rows: { kid: string; alg: string; publicJwk: Record<string, unknown>; activatedAt: Date }[]): LedgerKeySet {
  return {
    keys: rows.map((r, i) => ({
      ...(r.publicJwk as Omit<LedgerPublicKey, "kid" | "alg" | "activated_at" | "retired_at">),
      kid: r.kid,
      alg: r.alg,
      use: "sig",
      activated_at: r.activatedAt.toISOString(),
      retired_at: rows[i + 1]?.activatedAt.toISOString() ?? null,
    })),
  };
}
