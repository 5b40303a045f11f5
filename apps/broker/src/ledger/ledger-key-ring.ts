// The ledger's signing keys (LedgerKeys of @link-broker/consent-ledger): Ed25519, apart from the
// short-lived access-token keys, rotated rarely (`pnpm cli ledger keys rotate`) and published
// forever at /ledger/keys.json. The private half is sealed at rest under the master key.
import { createPrivateKey, generateKeyPairSync, randomUUID, type JsonWebKey, type KeyObject } from "node:crypto";
import { publishKeys, signLedgerJws, type LedgerKeys, type LedgerKeySet } from "@link-broker/consent-ledger";
import type { Clock } from "../clock.ts";
import type { Sealer } from "../crypto/seal.ts";
import type { LedgerKeyRow, LedgerKeysRepo } from "./ledger-keys-repo.ts";

const privateContext = (kid: string) => `ledger_signing_key:${kid}:private`;

export interface LedgerKeyRing extends LedgerKeys {
  /** Activates a new ledger key; the previous one retires now and stays published. */
  rotate(): Promise<string>;
  list(): Promise<{ kid: string; alg: string; activatedAt: Date; retiredAt: Date | null }[]>;
}

/**
 * Each process re-reads the key table at most every `cacheMs`: after a rotation another process
 * may sign with the previous key for that long, well inside the verifiers' allowance
 * (KEY_WINDOW_SKEW_S) around a key's retirement.
 */
export function createLedgerKeyRing(deps: { repo: LedgerKeysRepo; sealer: Sealer; clock: Clock; cacheMs?: number }): LedgerKeyRing {
  const { repo, sealer, clock } = deps;
  const cacheMs = deps.cacheMs ?? 10_000;
  let cached: { at: number; rows: LedgerKeyRow[]; active: { kid: string; alg: string; key: KeyObject } } | undefined;

  function makeKey(): LedgerKeyRow {
    const kid = randomUUID();
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    return {
      kid,
      alg: "EdDSA",
      publicJwk: publicKey.export({ format: "jwk" }) as Record<string, unknown>,
      privateJwkSealed: sealer.seal(JSON.stringify(privateKey.export({ format: "jwk" })), privateContext(kid)),
      activatedAt: clock.now(),
    };
  }

  async function load() {
    if (cached && Date.now() - cached.at < cacheMs) return cached;
    let rows = await repo.all();
    if (rows.length === 0) {
      await repo.addKey(false, makeKey);
      rows = await repo.all();
    }
    const last = rows[rows.length - 1]!;
    const jwk = JSON.parse(sealer.unseal(last.privateJwkSealed, privateContext(last.kid))) as JsonWebKey;
    cached = { at: Date.now(), rows, active: { kid: last.kid, alg: last.alg, key: createPrivateKey({ key: jwk, format: "jwk" }) } };
    return cached;
  }

  return {
    async sign(payload, { typ }) {
      const { active } = await load();
      return signLedgerJws(active.key, { alg: active.alg, kid: active.kid, typ }, payload);
    },
    /** Always read afresh: a key another process just activated must verify at once. */
    async published(): Promise<LedgerKeySet> {
      const rows = await repo.all();
      return publishKeys(rows.length > 0 ? rows : (await load()).rows);
    },
    async rotate() {
      const row = await repo.addKey(true, makeKey);
      cached = undefined;
      return row.kid;
    },
    async list() {
      return (await this.published()).keys.map((k) => ({ kid: k.kid, alg: k.alg, activatedAt: new Date(k.activated_at), retiredAt: k.retired_at === null ? null : new Date(k.retired_at) }));
    },
  };
}
