import type { CliContext, CliGroup } from "./cli-command.ts";

async function storeOf({ db, config }: CliContext) {
  const [{ systemClock }, { createSealer }, { createKeyStore }, { createKeysRepo }] = await Promise.all([import("../clock.ts"), import("../crypto/seal.ts"), import("../oauth/keys/key-store.ts"), import("../oauth/keys/keys-repo.ts")]);
  return createKeyStore({ repo: createKeysRepo(db), sealer: createSealer(config.masterKey), clock: systemClock });
}

/** `keys rotate|list`: the broker's ES256 signing keys. */
export const keysCommands: CliGroup = {
  summary: "the broker's access-token signing keys",
  commands: {
    rotate: {
      summary: "add a new signing key; it signs from now on, the previous one stays published until its tokens expire",
      access: "write",
      run: async (ctx) => {
        const kid = await (await storeOf(ctx)).rotate();
        ctx.out(`new signing key ${kid} is active (running brokers pick it up within 10 s)`);
      },
    },
    list: {
      summary: "list signing keys with their state",
      access: "read",
      run: async (ctx) => {
        const now = new Date();
        const keys = await (await storeOf(ctx)).list();
        if (!keys.length) ctx.out("no signing keys yet (the broker creates one at its first start, or run `keys rotate`)");
        for (const k of keys) {
          const state = !k.retiredAt ? "active" : k.publishUntil && k.publishUntil > now ? `published until ${k.publishUntil.toISOString()}` : "expired";
          ctx.out(`${k.kid}  ${k.alg}  created ${k.createdAt.toISOString()}  ${state}`);
        }
      },
    },
  },
};
