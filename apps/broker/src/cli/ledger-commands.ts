// `link-broker ledger verify | export [--format jsonl|csv] [--from ISO] [--to ISO] | checkpoint`
import { pipeline } from "node:stream/promises";
import { createBrokerLedger } from "../ledger/broker-ledger.ts";
import { systemClock } from "../clock.ts";
import { createSealer } from "../crypto/seal.ts";
import { createKeyStore } from "../oauth/keys/key-store.ts";
import { createKeysRepo } from "../oauth/keys/keys-repo.ts";
import type { CliContext, CliGroup } from "./cli.ts";

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function date(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`--${name} must be an ISO date`);
  return d;
}

/** The ledger for one command, signing checkpoints with the broker's published keys. */
async function withLedger<T>(ctx: CliContext, fn: (ledger: Awaited<ReturnType<typeof createBrokerLedger>>) => Promise<T>): Promise<T> {
  const keys = createKeyStore({ repo: createKeysRepo(ctx.db), sealer: createSealer(ctx.config.masterKey, ctx.config.previousMasterKeys), clock: systemClock });
  const ledger = await createBrokerLedger({ config: ctx.config, db: ctx.db, clock: systemClock, signer: keys.signer });
  try {
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}

export const ledgerCommands: CliGroup = {
  verify: {
    help: "recompute the hash chain and check it against the latest signed checkpoint",
    run: (ctx) =>
      withLedger(ctx, async (ledger) => {
        const v = await ledger.verify();
        ctx.out(JSON.stringify({ ok: v.ok, checked: v.checked, head_seq: v.headSeq, head_hash: v.headHash, first_bad_seq: v.firstBadSeq, checkpoint: v.checkpoint }));
        if (!v.ok) process.exitCode = 3;
      }),
  },
  export: {
    help: "stream the ledger to stdout: --format jsonl|csv (default jsonl), --from/--to ISO dates",
    run: (ctx, args) =>
      withLedger(ctx, async (ledger) => {
        const format = option(args, "format") ?? "jsonl";
        if (format !== "jsonl" && format !== "csv") throw new Error("--format must be jsonl or csv");
        const from = date(option(args, "from"), "from");
        const to = date(option(args, "to"), "to");
        await pipeline(ledger.export({ format, ...(from ? { from } : {}), ...(to ? { to } : {}) }), process.stdout, { end: false });
      }),
  },
  checkpoint: {
    help: "sign the current head of the chain and record it",
    run: (ctx) =>
      withLedger(ctx, async (ledger) => {
        const cp = await ledger.checkpoint();
        ctx.out(cp ? JSON.stringify({ seq: cp.seq, head_hash: cp.headHash, kid: cp.kid, jws: cp.jws }) : "the ledger is empty: nothing to checkpoint");
      }),
  },
};
