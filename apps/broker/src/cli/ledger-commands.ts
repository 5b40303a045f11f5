// `link-broker ledger ...`:
//   verify [--checkpoints FILE]                                      the database: chain, checkpoints, projection
//   verify --file export.jsonl --keys keys.json [--checkpoints FILE] an export, no database
//   export [--format jsonl|csv] [--from ISO] [--to ISO]
//   checkpoint
//   keys rotate | keys list [--json]                                 the ledger signing keys
import { readFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { ConsentLedger, LedgerKeySet } from "@link-broker/consent-ledger";
import { isoDate, str, UsageError, type CliContext, type CliGroup } from "./cli-command.ts";

/** Exit code of a ledger that does not verify (cron and monitoring alert on it). */
export const VERIFY_FAILED_EXIT = 3;

// Loaded when a command runs: help and usage errors need none of it.
const load = async () => {
  const [{ systemClock }, { createSealer }, ledgerModule, { verifyReply }, ledgerPkg] = await Promise.all([
    import("../clock.ts"),
    import("../crypto/seal.ts"),
    import("../ledger/ledger-module.ts"),
    import("../ledger/verify-reply.ts"),
    import("@link-broker/consent-ledger"),
  ]);
  return { systemClock, createSealer, ...ledgerModule, verifyReply, ...ledgerPkg };
};

async function keyRingOf(ctx: CliContext) {
  const { createBrokerLedgerKeys, createSealer, systemClock } = await load();
  return createBrokerLedgerKeys({ db: ctx.db, sealer: createSealer(ctx.config.masterKey, ctx.config.previousMasterKeys), clock: systemClock }, { cacheMs: 0 });
}

/** The ledger for one command, signing with the ledger keys. */
async function withLedger<T>(ctx: CliContext, fn: (ledger: ConsentLedger) => Promise<T>): Promise<T> {
  const { createBrokerLedger, systemClock } = await load();
  const ledger = createBrokerLedger({ config: ctx.config, db: ctx.db, clock: systemClock, keys: await keyRingOf(ctx) });
  try {
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}

async function readKeys(path: string): Promise<LedgerKeySet> {
  const keys = JSON.parse(await readFile(path, "utf8")) as LedgerKeySet;
  if (!keys || !Array.isArray(keys.keys)) throw new Error(`${path} is not a JWKS ({"keys": [...]}, as /ledger/keys.json serves)`);
  return keys;
}

export const ledgerCommands: CliGroup = {
  summary: "the consent ledger: verify, export, checkpoint, its signing keys",
  commands: {
    verify: {
      summary: `verify the ledger: the database (or --file export.jsonl --keys keys.json), plus --checkpoints FILE (the anchored checkpoints); exits ${VERIFY_FAILED_EXIT} when it does not verify`,
      access: "read",
      options: {
        checkpoints: { type: "string", value: "FILE", description: "anchored checkpoints (LEDGER_CHECKPOINT_FILE) to check against" },
        file: { type: "string", value: "FILE", description: "verify this export (JSONL) instead of the database; needs --keys" },
        keys: { type: "string", value: "FILE", description: "the ledger keys (GET /ledger/keys.json), with --file" },
      },
      // An export is verified without the broker's configuration or database.
      withoutDb: (values) =>
        values.file === undefined
          ? undefined
          : async (out) => {
              const keysPath = str(values, "keys");
              if (!keysPath) throw new UsageError("verify --file needs --keys keys.json (GET /ledger/keys.json)");
              const { verifyExportFile, readCheckpointFile, verifyReply } = await load();
              const anchorFile = str(values, "checkpoints");
              const v = await verifyExportFile(str(values, "file")!, await readKeys(keysPath), anchorFile ? await readCheckpointFile(anchorFile) : []);
              out(JSON.stringify(verifyReply(v)));
              if (!v.ok) process.exitCode = VERIFY_FAILED_EXIT;
            },
      run: async (ctx, values) => {
        const { readCheckpointFile, verifyReply } = await load();
        const anchorFile = str(values, "checkpoints");
        const anchored = anchorFile ? await readCheckpointFile(anchorFile) : [];
        await withLedger(ctx, async (ledger) => {
          const v = await ledger.verify({ checkpoints: anchored });
          const reply = verifyReply(v);
          ctx.out(JSON.stringify(reply));
          if (!v.ok) {
            process.stderr.write(`link-broker: the ledger does not verify: first bad entry is seq ${reply.first_bad_seq ?? "?"}${reply.problem ? ` (${reply.problem})` : ""}\n`);
            process.exitCode = VERIFY_FAILED_EXIT;
          }
        });
      },
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
      summary: "sign the current head of the chain with the ledger key and record it (and append it to LEDGER_CHECKPOINT_FILE)",
      access: "write",
      run: (ctx) =>
        withLedger(ctx, async (ledger) => {
          const cp = await ledger.checkpoint();
          ctx.out(cp ? JSON.stringify({ seq: cp.seq, head_hash: cp.headHash, kid: cp.kid, jws: cp.jws }) : "the ledger is empty: nothing to checkpoint");
        }),
    },
    "keys rotate": {
      summary: "activate a new ledger signing key (the previous one stays published forever)",
      access: "write",
      run: async (ctx) => {
        const kid = await (await keyRingOf(ctx)).rotate();
        ctx.out(`new ledger key ${kid} is active (running brokers sign with it within 10 s); every earlier key stays published at /ledger/keys.json`);
      },
    },
    "keys list": {
      summary: "list the ledger signing keys (--json: as /ledger/keys.json)",
      access: "read",
      options: { json: { type: "boolean", description: "print the published JWKS" } },
      run: async (ctx, values) => {
        const ring = await keyRingOf(ctx);
        if (values.json) ctx.out(JSON.stringify(await ring.published()));
        else for (const k of await ring.list()) ctx.out(`${k.kid}  ${k.alg}  activated ${k.activatedAt.toISOString()}  ${k.retiredAt ? `retired ${k.retiredAt.toISOString()}` : "active"}`);
      },
    },
  },
};
