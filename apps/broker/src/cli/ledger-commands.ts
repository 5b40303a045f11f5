// `link-broker ledger verify | export [--format jsonl|csv] [--from ISO] [--to ISO] | checkpoint`
import { pipeline } from "node:stream/promises";
import type { ConsentLedger } from "@link-broker/consent-ledger";
import { isoDate, str, type CliContext, type CliGroup } from "./cli-command.ts";

/** The ledger for one command, signing checkpoints with the broker's published keys. */
async function withLedger<T>(ctx: CliContext, fn: (ledger: ConsentLedger) => Promise<T>): Promise<T> {
  // Loaded here, not at the top: help and usage errors need none of it.
  const [{ systemClock }, { createSealer }, { createBrokerLedger }, { createKeyStore }, { createKeysRepo }] = await Promise.all([
    import("../clock.ts"),
    import("../crypto/seal.ts"),
    import("../ledger/broker-ledger.ts"),
    import("../oauth/keys/key-store.ts"),
    import("../oauth/keys/keys-repo.ts"),
  ]);
  const keys = createKeyStore({ repo: createKeysRepo(ctx.db), sealer: createSealer(ctx.config.masterKey), clock: systemClock });
  const ledger = await createBrokerLedger({ config: ctx.config, db: ctx.db, clock: systemClock, signer: keys.signer });
  try {
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}

/** Exit code of a ledger that does not verify (cron and monitoring alert on it). */
export const VERIFY_FAILED_EXIT = 3;

export const ledgerCommands: CliGroup = {
  summary: "the consent ledger: verify, export, checkpoint",
  commands: {
    verify: {
      summary: `recompute the hash chain and check the latest signed checkpoint; exits ${VERIFY_FAILED_EXIT} when the ledger does not verify`,
      access: "read",
      run: (ctx) =>
        withLedger(ctx, async (ledger) => {
          const v = await ledger.verify();
          ctx.out(JSON.stringify({ ok: v.ok, checked: v.checked, head_seq: v.headSeq, head_hash: v.headHash, first_bad_seq: v.firstBadSeq ?? null, checkpoint: v.checkpoint ?? null }));
          if (!v.ok) {
            process.stderr.write(`link-broker: the ledger does not verify: first bad entry is seq ${v.firstBadSeq}\n`);
            process.exitCode = VERIFY_FAILED_EXIT;
          }
        }),
    },
    export: {
      summary: "stream ledger entries to stdout",
      access: "read",
      options: {
        format: { type: "string", choices: ["jsonl", "csv"], description: "output format (default jsonl)" },
        from: { type: "string", date: true, value: "ISO-DATE", description: "entries recorded at or after this time" },
        to: { type: "string", date: true, value: "ISO-DATE", description: "entries recorded before this time" },
      },
      run: async (ctx, values) => {
        const format = (str(values, "format") ?? "jsonl") as "jsonl" | "csv";
        const from = isoDate(values, "from");
        const to = isoDate(values, "to");
        await withLedger(ctx, (ledger) => pipeline(ledger.export({ format, ...(from ? { from } : {}), ...(to ? { to } : {}) }), process.stdout, { end: false }));
      },
    },
    checkpoint: {
      summary: "sign the current head of the chain and record it",
      access: "write",
      run: (ctx) =>
        withLedger(ctx, async (ledger) => {
          const cp = await ledger.checkpoint();
          ctx.out(cp ? JSON.stringify({ seq: cp.seq, head_hash: cp.headHash, kid: cp.kid, jws: cp.jws }) : "the ledger is empty: nothing to checkpoint");
        }),
    },
  },
};
