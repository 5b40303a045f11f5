// In-memory ledger keys for tests and benchmarks outside the broker (which keeps them sealed in
// its database): Ed25519, rotated by hand, with the same published form as /ledger/keys.json.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { type ChainEntry, entryHash, GENESIS_HASH } from "./hash-chain.ts";
import type { CheckpointRecord } from "./ledger-audit.ts";
import { CHECKPOINT_TYP, type LedgerKeys, publishKeys, signLedgerJws } from "./ledger-keys.ts";

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

// Chains built in memory, for the verification tests: an honest chain, and one rehashed after an edit.
export const CHAIN_T0 = new Date("2026-03-01T10:00:00.000Z");
export const chainMinute = (minutes: number) => new Date(CHAIN_T0.getTime() + minutes * 60_000);

export type ChainFields = Partial<Omit<ChainEntry, "prevHash" | "hash">>;

/** A correctly linked and hashed chain; `seqs` may have gaps, as a rolled-back insert leaves. */
export function buildChain(specs: ChainFields[], seqs = specs.map((_, i) => BigInt(i + 1))): ChainEntry[] {
  let prev = GENESIS_HASH;
  return specs.map((s, i) => {
    const body = {
      seq: seqs[i]!,
      consentId: "c1",
      action: "granted",
      clientId: "bank-a",
      subject: "cust-1",
      linkId: "link-1",
      psid: "psid-1",
      scopes: ["balance:read"],
      purposes: ["account_servicing"],
      pairs: [{ scope: "balance:read", purpose: "account_servicing" }],
      expiresAt: chainMinute(60 * 24),
      actor: "customer",
      evidence: { ip: "192.0.2.1" },
      recordedAt: chainMinute(i),
      ...s,
    };
    const e = { ...body, prevHash: prev, hash: entryHash(prev, body) };
    prev = e.hash;
    return e;
  });
}

/** Rehashes `entries` from index `from` on, as a forger who rewrote history would. */
export function rehashFrom(entries: ChainEntry[], from: number): ChainEntry[] {
  const out = entries.slice(0, from);
  let prev = from === 0 ? GENESIS_HASH : entries[from - 1]!.hash;
  for (const e of entries.slice(from)) {
    const r = { ...e, prevHash: prev, hash: entryHash(prev, e) };
    out.push(r);
    prev = r.hash;
  }
  return out;
}

/** Published ledger keys, and a signer of checkpoints over a chain entry (payload fields overridable). */
export async function chainKeys() {
  const keys = createEphemeralLedgerKeys({ clock: { now: () => CHAIN_T0 } });
  const published = await keys.published();
  const checkpoint = async (e: Pick<ChainEntry, "seq" | "hash">, payload: Record<string, unknown> = {}): Promise<CheckpointRecord> => {
    const seq = e.seq.toString();
    const jws = await keys.sign({ seq, head_hash: e.hash, iat: Math.floor(CHAIN_T0.getTime() / 1000) + 60, ...payload }, { typ: CHECKPOINT_TYP });
    return { seq, headHash: e.hash, kid: published.keys[0]!.kid, jws };
  };
  return { keys: published, checkpoint };
}
