// ES256 keys for private_key_jwt and DPoP, and their public JWK for registration.
import { type CryptoKey, type CryptoKeyPair, calculatePKCECodeChallenge, type JWK, randomDPoPKeyPair, randomPKCECodeVerifier } from "openid-client";

export interface EcPublicJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
  kid?: string;
  alg: "ES256";
  use: "sig";
}

/** A new ES256 key pair; `extractable` to store the private key (e.g. as a JWK in a secret store). */
export function generateKeyPair(options: { extractable?: boolean } = {}): Promise<CryptoKeyPair> {
  return randomDPoPKeyPair("ES256", { extractable: options.extractable ?? false });
}

/** The public JWK to register in `jwks` (private_key_jwt). */
export async function publicJwk(publicKey: CryptoKey, kid?: string): Promise<EcPublicJwk> {
  const jwk = (await crypto.subtle.exportKey("jwk", publicKey as never)) as { x: string; y: string };
  return { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, alg: "ES256", use: "sig", ...(kid ? { kid } : {}) };
}

/** A private key from a stored JWK (`crypto.subtle.exportKey("jwk", privateKey)`). */
export function importPrivateJwk(jwk: JWK): Promise<CryptoKey> {
  return crypto.subtle.importKey("jwk", jwk as never, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
}

/** A DPoP key pair from a stored private JWK (the public half is derived from it). */
export async function importDpopKeyPair(jwk: JWK): Promise<CryptoKeyPair> {
  const { d: _d, key_ops: _ops, ...pub } = jwk;
  const publicKey = await crypto.subtle.importKey("jwk", { ...pub, key_ops: ["verify"] } as never, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  return { privateKey: await importPrivateJwk({ ...jwk, key_ops: ["sign"] }), publicKey };
}

/** A fresh PKCE pair (S256): send `challenge` with the pushed request, keep `verifier` for the exchange. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = randomPKCECodeVerifier();
  return { verifier, challenge: await calculatePKCECodeChallenge(verifier) };
}
