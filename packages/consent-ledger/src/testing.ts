// In-memory ledger keys for tests and benchmarks outside the broker (which keeps them sealed in
// its database): Ed25519, rotated by hand, with the same published form as /ledger/keys.json.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { type LedgerKeys, publishKeys, signLedgerJws } from "./ledger-keys.ts";

export interface EphemeralLedgerKeys extends LedgerKeys {
  /** Activates a new key now (by `clock`); returns its kid. */
  rotate(): string;
}

export function createEphemeralLedgerKeys(options: { clock?: { now(): Date }; prefix?: string } = {}): EphemeralLedgerKeys {
  const clock = options.clock ?? { now: () => new Date() };
  const prefix = options.prefix ?? "ledger-test";
  const rows: { kid: string; alg: string; publicJwk: Record<string, unknown>; activatedAt: Date; key: KeyObject }[] = [];
  function rotate(): string {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const kid = `${prefix}-${rows.length + 1}`;
    rows.push({ kid, alg: "EdDSA", publicJwk: publicKey.export({ format: "jwk" }) as Record<string, unknown>, activatedAt: clock.now(), key: privateKey });
    return kid;
  }
  return {
    rotate,
    async sign(payload, { typ }) {
      if (rows.length === 0) rotate();
      const active = rows[rows.length - 1]!;
      return signLedgerJws(active.key, { alg: active.alg, kid: active.kid, typ }, payload);
    },
    async published() {
      if (rows.length === 0) rotate();
      return publishKeys(rows);
    },
  };
}
