// The IdP's signing key: generated once, kept under .data/sandbox/, so ID tokens stay valid across restarts.
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { jsonFile } from "../json-store.ts";

export async function loadIdpJwks(dataDir: string): Promise<{ keys: JWK[] }> {
  const file = jsonFile<{ keys: JWK[] } | null>(dataDir, "idp-jwks.json", () => null);
  const existing = file.read();
  if (existing) return existing;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: "RS256", use: "sig", kid: `idp-${Date.now()}` };
  const jwks = { keys: [jwk] };
  file.write(jwks);
  return jwks;
}
