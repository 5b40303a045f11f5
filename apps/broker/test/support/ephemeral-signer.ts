// A process-local ES256 signer for tests that build a ledger outside the broker (the broker signs
// with its published keys).
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
