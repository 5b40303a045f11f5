import type { CliContext, CliGroup } from "./cli-command.ts";

async function sealerOf({ config }: CliContext) {
  const { createSealer } = await import("../crypto/seal.ts");
  return createSealer(config.masterKey, config.previousMasterKeys);
}

async function storeOf(ctx: CliContext) {
  const [{ systemClock }, { createKeyStore }, { createKeysRepo }] = await Promise.all([import("../clock.ts"), import("../oauth/keys/key-store.ts"), import("../oauth/keys/keys-repo.ts")]);
  return createKeyStore({ repo: createKeysRepo(ctx.db), sealer: await sealerOf(ctx), clock: systemClock });
}

/** `keys rotate|list`: the broker's ES256 signing keys; `keys rewrap`: master key rotation. */
export const keysCommands: CliGroup = {
  summary: "the broker's access-token signing keys, and re-sealing under a new master key",
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
    rewrap: {
      summary: "re-seal every sealed value under BROKER_MASTER_KEY (old keys in BROKER_MASTER_KEY_PREVIOUS); resumable",
      access: "write",
      run: async (ctx) => {
        const [{ rewrapSealedValues }, { createSealedValuesRepo }] = await Promise.all([import("../master-key/rewrap-service.ts"), import("../master-key/sealed-values-repo.ts")]);
        const sealer = await sealerOf(ctx);
        const counts = await rewrapSealedValues({ repo: createSealedValuesRepo(ctx.db), sealer });
        for (const c of counts) ctx.out(`${c.column}: ${c.rewrapped} re-sealed, ${c.current} under ${sealer.kid}, ${c.failed} not opened`);
        const failed = counts.reduce((n, c) => n + c.failed, 0);
        const rewrapped = counts.reduce((n, c) => n + c.rewrapped, 0);
        if (failed > 0) throw new Error(`${failed} sealed values open with none of the configured keys; add their key to BROKER_MASTER_KEY_PREVIOUS and run again`);
        ctx.out(`done: ${rewrapped} values re-sealed under ${sealer.kid}; older keys can leave BROKER_MASTER_KEY_PREVIOUS`);
      },
    },
  },
};
