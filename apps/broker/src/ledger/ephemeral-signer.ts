// TEMPORARY: a process-local ES256 key for ledger receipts and checkpoints, generated at build
// time. OAuth's keyStore.signer (keys persisted, published at /jwks.json) replaces it at merge;
// until then receipts do not verify against a published JWKS.
import type { LedgerSigner } from "@link-broker/consent-ledger";
import { CompactSign, generateKeyPair } from "jose";

export async function createEphemeralLedgerSigner(): Promise<LedgerSigner> {
  const { privateKey } = await generateKeyPair("ES256");
  const kid = `ephemeral-${Date.now().toString(36)}`;
  return {
    sign: (payload, options) =>
      new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "ES256", kid, ...(options?.typ ? { typ: options.typ } : {}) })
        .sign(privateKey),
  };
}
