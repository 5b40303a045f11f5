import type { Db } from "@link-broker/db";
import { CompactSign, exportJWK, generateKeyPair, type JWK } from "jose";
import { createConsentLedger, type ConsentLedger, type LedgerSigner } from "../src/index.ts";

export interface TestSigner extends LedgerSigner {
  jwks: { keys: JWK[] };
}

/** An ES256 signer like the broker's keyStore.signer, with its public JWKS. */
export async function createTestSigner(kid = "test-key-1"): Promise<TestSigner> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return {
    jwks: { keys: [jwk] },
    async sign(payload, options) {
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "ES256", kid, ...(options?.typ ? { typ: options.typ } : {}) })
        .sign(privateKey);
    },
  };
}

/** A clock tests move by hand. */
export function fakeClock(start = new Date("2026-03-01T10:00:00.000Z")) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (d: Date) => (t = d.getTime()),
    advance: (ms: number) => (t += ms),
  };
}

export const DAY = 24 * 60 * 60 * 1000;

export async function makeLedger(db: Db, clock = fakeClock(), signer?: TestSigner): Promise<{ ledger: ConsentLedger; clock: ReturnType<typeof fakeClock>; signer: TestSigner }> {
  const s = signer ?? (await createTestSigner());
  const ledger = createConsentLedger({ db, signer: s, clock, subjectKey: "receipt-subject-key" });
  await ledger.ready();
  return { ledger, clock, signer: s };
}

export async function entryCount(db: Db) {
  return db.prisma.ledgerEntry.count();
}
