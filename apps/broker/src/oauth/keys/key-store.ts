import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign as cryptoSign, verify as cryptoVerify, type JsonWebKey, type KeyObject } from "node:crypto";
import type { Clock } from "../../clock.ts";
import type { Sealer } from "../../crypto/seal.ts";
import { refreshingValue } from "../shared/refreshing-value.ts";
import { ACCESS_TOKEN_TTL } from "../scopes.ts";
import type { KeysRepo, SigningKeyRow } from "./keys-repo.ts";

/** The signing contract other modules use (consent receipts, ledger checkpoints). */
export interface Signer {
  sign(payload: Record<string, unknown>, options: { typ: string }): Promise<string>;
}

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: string;
  use: string;
}

const b64 = (value: string | Buffer) => Buffer.from(value).toString("base64url");
/** Context of a sealed signing key (also read by the master-key check and `keys rewrap`). */
export const privateContext = (kid: string) => `signing_key:${kid}:private`;

/**
 * ES256 signing keys, sealed at rest. Signing uses node:crypto on a cached KeyObject, on the
 * thread pool (about three times faster than WebCrypto here); the output is an ordinary compact
 * JWS (IEEE P1363 signature), verified by jose and openid-client. Each process re-reads the key
 * table every `cacheMs`, so after a rotation another process may still sign with the previous key
 * for that long — harmless, as that key stays published for the access token lifetime plus a margin.
 */
export function createKeyStore(deps: { repo: KeysRepo; sealer: Sealer; clock: Clock; cacheMs?: number; publishFor?: number }) {
  const { repo, sealer, clock } = deps;
  const cacheMs = deps.cacheMs ?? 10_000;
  const publishFor = deps.publishFor ?? ACCESS_TOKEN_TTL + 120;
  let lastMissRefresh = 0;

  function makeKey() {
    const kid = randomUUID();
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const publicJwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
    const privateJwkSealed = sealer.seal(JSON.stringify(privateKey.export({ format: "jwk" })), privateContext(kid));
    return { kid, publicJwk, privateJwkSealed };
  }

  function openPrivate(row: SigningKeyRow): KeyObject {
    const jwk = JSON.parse(sealer.unseal(row.privateJwkSealed, privateContext(row.kid))) as JsonWebKey;
    return createPrivateKey({ key: jwk, format: "jwk" });
  }

  const active = refreshingValue(cacheMs, async () => {
    const row = (await repo.active()) ?? (await repo.ensureOrRotate(false, clock.now(), publishFor, makeKey));
    return { kid: row.kid, key: openPrivate(row) };
  });
  const published = refreshingValue(cacheMs, async () => {
    await active.get();
    const rows = await repo.published(clock.now());
    const jwks = rows.map((r) => r.publicJwk as PublicJwk);
    return { jwks, keys: new Map(jwks.map((j) => [j.kid, createPublicKey({ key: j as unknown as JsonWebKey, format: "jwk" })])) };
  });

  const headers = new Map<string, string>();
  function signWith(key: { kid: string; key: KeyObject }, payload: Record<string, unknown>, typ: string): Promise<string> {
    let header = headers.get(`${key.kid} ${typ}`);
    if (!header) {
      header = b64(JSON.stringify({ alg: "ES256", typ, kid: key.kid }));
      if (headers.size > 100) headers.clear();
      headers.set(`${key.kid} ${typ}`, header);
    }
    const input = `${header}.${b64(JSON.stringify(payload))}`;
    // With a callback, node:crypto signs on the libuv thread pool, so the event loop keeps serving
    // requests meanwhile (as WebCrypto does, without its key import and promise layers).
    return new Promise((resolve, reject) => {
      cryptoSign("sha256", Buffer.from(input), { key: key.key, dsaEncoding: "ieee-p1363" }, (err, sig) => (err ? reject(err) : resolve(`${input}.${sig.toString("base64url")}`)));
    });
  }

  const signer: Signer = {
    async sign(payload, { typ }) {
      return signWith(await active.get(), payload, typ);
    },
  };

  return {
    signer,
    /** Public keys for /jwks.json: the active one and those inside their publication window. */
    async jwks(): Promise<{ keys: PublicJwk[] }> {
      return { keys: (await published.get()).jwks };
    },
    /** The public key of `kid`, if it is still published. */
    async verificationKey(kid: string): Promise<KeyObject | undefined> {
      let pub = await published.get();
      let key = pub.keys.get(kid);
      if (!key && Date.now() - lastMissRefresh > 1000) {
        lastMissRefresh = Date.now();
        pub = await published.reload();
        key = pub.keys.get(kid);
      }
      return key;
    },
    /** Verifies an ES256 compact JWS signed by one of our keys; returns header and payload. */
    async verify(jws: string): Promise<{ header: Record<string, unknown>; payload: Record<string, unknown> } | undefined> {
      const parts = jws.split(".");
      if (parts.length !== 3) return undefined;
      let header: Record<string, unknown>;
      let payload: Record<string, unknown>;
      try {
        header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8"));
        payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"));
      } catch {
        return undefined;
      }
      if (header?.alg !== "ES256" || typeof header.kid !== "string" || !payload || typeof payload !== "object") return undefined;
      const key = await this.verificationKey(header.kid);
      if (!key) return undefined;
      const ok = cryptoVerify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(parts[2]!, "base64url"));
      return ok ? { header, payload } : undefined;
    },
    /** Adds a new active key; the previous one stays published for `publishFor` seconds. */
    async rotate(): Promise<string> {
      const row = await repo.ensureOrRotate(true, clock.now(), publishFor, makeKey);
      active.clear();
      published.clear();
      return row.kid;
    },
    async list() {
      const rows = await repo.all();
      return rows.map((r) => ({ kid: r.kid, alg: r.alg, createdAt: r.createdAt, retiredAt: r.retiredAt, publishUntil: r.publishUntil }));
    },
  };
}
export type KeyStore = ReturnType<typeof createKeyStore>;
