import { createSealer } from "../crypto/seal.ts";
import { systemClock } from "../clock.ts";
import { createKeyStore } from "../oauth/keys/key-store.ts";
import { createKeysRepo } from "../oauth/keys/keys-repo.ts";
import type { CliContext, CliGroup } from "./cli-context.ts";

const storeOf = ({ db, config }: CliContext) => createKeyStore({ repo: createKeysRepo(db), sealer: createSealer(config.masterKey), clock: systemClock });

/** `keys rotate|list`: the broker's ES256 signing keys. */
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
};
