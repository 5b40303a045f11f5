import { rewrapSealedValues } from "../master-key/rewrap-service.ts";
import { createSealer } from "../crypto/seal.ts";
import { createSealedValuesRepo } from "../master-key/sealed-values-repo.ts";
import { systemClock } from "../clock.ts";
import { createKeyStore } from "../oauth/keys/key-store.ts";
import { createKeysRepo } from "../oauth/keys/keys-repo.ts";
import type { CliContext, CliGroup } from "./cli-context.ts";

const storeOf = ({ db, config }: CliContext) => createKeyStore({ repo: createKeysRepo(db), sealer: createSealer(config.masterKey, config.previousMasterKeys), clock: systemClock });

/** `keys rotate|list`: the broker's ES256 signing keys; `keys rewrap`: master key rotation. */
export const keysCommands: CliGroup = {
  rotate: {
    help: "add a new signing key; it signs from now on, the previous one stays published until its tokens expire",
    run: async (ctx) => {
      const kid = await storeOf(ctx).rotate();
      ctx.out(`new signing key ${kid} is active (running brokers pick it up within 10 s)`);
    },
  },
  list: {
    help: "list signing keys with their state",
    run: async (ctx) => {
      const now = new Date();
      for (const k of await storeOf(ctx).list()) {
        const state = !k.retiredAt ? "active" : k.publishUntil && k.publishUntil > now ? `published until ${k.publishUntil.toISOString()}` : "expired";
        ctx.out(`${k.kid}  ${k.alg}  created ${k.createdAt.toISOString()}  ${state}`);
      }
    },
  },
  rewrap: {
    help: "re-seal every sealed value under BROKER_MASTER_KEY (old keys in BROKER_MASTER_KEY_PREVIOUS); resumable",
    run: async ({ db, config, out }) => {
      const sealer = createSealer(config.masterKey, config.previousMasterKeys);
      const counts = await rewrapSealedValues({ repo: createSealedValuesRepo(db), sealer });
      for (const c of counts) out(`${c.column}: ${c.rewrapped} re-sealed, ${c.current} under ${sealer.kid}, ${c.failed} not opened`);
      const failed = counts.reduce((n, c) => n + c.failed, 0);
      const rewrapped = counts.reduce((n, c) => n + c.rewrapped, 0);
      if (failed > 0) throw new Error(`${failed} sealed values open with none of the configured keys; add their key to BROKER_MASTER_KEY_PREVIOUS and run again`);
      out(`done: ${rewrapped} values re-sealed under ${sealer.kid}; older keys can leave BROKER_MASTER_KEY_PREVIOUS`);
    },
  },
};
