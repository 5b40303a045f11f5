// The bank's keys at the broker: one for private_key_jwt client assertions, one for DPoP proofs.
// Kept as private JWKs in the sandbox's data folder (a real bank keeps them in its key store).
import { randomUUID } from "node:crypto";
import { type CryptoKey, type CryptoKeyPair, generateKeyPair, importDpopKeyPair, importPrivateJwk, type JWK } from "@link-broker/client";

export type StoredJwk = JWK & { kid?: string; alg?: string };

export interface StoredKeys {
  clientKey: StoredJwk;
  dpopKey: StoredJwk;
}

export async function generateClientKeys(): Promise<StoredKeys> {
  const make = async (prefix: string): Promise<StoredJwk> => {
    const { privateKey } = await generateKeyPair({ extractable: true });
    return { ...((await crypto.subtle.exportKey("jwk", privateKey as never)) as JWK), alg: "ES256", kid: `${prefix}-${randomUUID()}` };
  };
  return { clientKey: await make("client"), dpopKey: await make("dpop") };
}

/** The public half, for the registration's `jwks`. */
export function publicJwk(jwk: StoredJwk): Record<string, unknown> {
  const { d: _d, key_ops: _ops, ext: _ext, ...pub } = jwk;
  return { ...pub, use: "sig" };
}

/** The keys as the client package takes them. */
export async function importKeys(keys: StoredKeys): Promise<{ clientKey: CryptoKey; kid: string | undefined; dpop: CryptoKeyPair }> {
  const strip = ({ kid: _kid, alg: _alg, ...jwk }: StoredJwk) => jwk;
  return { clientKey: await importPrivateJwk(strip(keys.clientKey)), kid: keys.clientKey.kid, dpop: await importDpopKeyPair(strip(keys.dpopKey)) };
}
