// The bank's keys at the broker: one for private_key_jwt client assertions, one for DPoP proofs.
import { randomUUID, createHash } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from "jose";

export interface StoredKeys {
  clientKey: JWK;
  dpopKey: JWK;
}

export async function generateClientKeys(): Promise<StoredKeys> {
  const make = async (prefix: string) => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    return { ...(await exportJWK(privateKey)), alg: "ES256", kid: `${prefix}-${randomUUID()}` };
  };
  return { clientKey: await make("client"), dpopKey: await make("dpop") };
}

export function publicJwk(jwk: JWK): JWK {
  const { d: _d, ...pub } = jwk;
  return pub;
}

export interface Signer {
  clientAssertion(clientId: string, audience: string): Promise<string>;
  dpopProof(method: string, url: string, options?: { accessToken?: string; nonce?: string }): Promise<string>;
}

export async function createSigner(keys: StoredKeys): Promise<Signer> {
  const clientKey = (await importJWK(keys.clientKey, "ES256")) as CryptoKey;
  const dpopKey = (await importJWK(keys.dpopKey, "ES256")) as CryptoKey;
  const dpopPublic = publicJwk(keys.dpopKey);
  delete dpopPublic.kid;
  delete dpopPublic.alg;
  return {
    // RFC 7523: single-use jti, short expiry, audience = the broker's issuer.
    clientAssertion: (clientId, audience) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: keys.clientKey.kid ?? "" })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(audience)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime("60s")
        .sign(clientKey),
    // RFC 9449 proof; `ath` binds it to the access token on resource requests.
    dpopProof: (method, url, options = {}) => {
      const u = new URL(url);
      const claims: Record<string, string> = { htm: method, htu: `${u.origin}${u.pathname}` };
      if (options.accessToken) claims.ath = createHash("sha256").update(options.accessToken).digest("base64url");
      if (options.nonce) claims.nonce = options.nonce;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: dpopPublic })
        .setJti(randomUUID())
        .setIssuedAt()
        .sign(dpopKey);
    },
  };
}
