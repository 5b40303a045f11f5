// `link-broker ledger ...`:
//   verify [--checkpoints FILE]                        the database: chain, checkpoints, projection
//   verify --file export.jsonl --keys keys.json [--checkpoints FILE]   an export, no database
//   export [--format jsonl|csv] [--from ISO] [--to ISO]
//   checkpoint
//   keys rotate | keys list [--json]                   the ledger signing keys
import { readFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { readCheckpointFile, verifyExportFile, type LedgerKeySet } from "@link-broker/consent-ledger";
import { systemClock } from "../clock.ts";
import { createSealer } from "../crypto/seal.ts";
import { createBrokerLedger, createBrokerLedgerKeys } from "../ledger/ledger-module.ts";
import { verifyReply } from "../ledger/verify-reply.ts";
import type { CliContext, CliGroup } from "./cli-context.ts";

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

const keyRingOf = (ctx: CliContext) => createBrokerLedgerKeys({ db: ctx.db, sealer: createSealer(ctx.config.masterKey, ctx.config.previousMasterKeys), clock: systemClock }, { cacheMs: 0 });

/** The ledger for one command, signing with the ledger keys. */
async function withLedger<T>(ctx: CliContext, fn: (ledger: ReturnType<typeof createBrokerLedger>) => Promise<T>): Promise<T> {
  const ledger = createBrokerLedger({ config: ctx.config, db: ctx.db, clock: systemClock, keys: keyRingOf(ctx) });
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

/** `verify --file`: needs neither the database nor the broker's configuration. */
export async function verifyExportCommand(args: string[], out: (line: string) => void): Promise<boolean> {
  const file = option(args, "file");
  const keysPath = option(args, "keys");
  if (!file || !keysPath) throw new Error("verify --file needs --keys keys.json (GET /ledger/keys.json)");
  const anchorFile = option(args, "checkpoints");
  const v = await verifyExportFile(file, await readKeys(keysPath), anchorFile ? await readCheckpointFile(anchorFile) : []);
  out(JSON.stringify(verifyReply(v)));
  return v.ok;
}

export const ledgerCommands: CliGroup = {
  verify: {
    help: "verify the ledger: the database (or --file export.jsonl --keys keys.json), plus --checkpoints FILE (the anchored checkpoints); exits 3 when it does not verify",
    // An export is verified without the broker's configuration or database.
    withoutDb: (args) =>
      option(args, "file") === undefined
        ? undefined
        : async (out) => {
            if (!(await verifyExportCommand(args, out))) process.exitCode = 3;
          },
    run: async (ctx, args) => {
      const anchorFile = option(args, "checkpoints");
      const anchored = anchorFile ? await readCheckpointFile(anchorFile) : [];
      await withLedger(ctx, async (ledger) => {
        const v = await ledger.verify({ checkpoints: anchored });
        ctx.out(JSON.stringify(verifyReply(v)));
        if (!v.ok) process.exitCode = 3;
      });
    },
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
    help: "sign the current head of the chain with the ledger key and record it (and append it to LEDGER_CHECKPOINT_FILE)",
    run: (ctx) =>
      withLedger(ctx, async (ledger) => {
        const cp = await ledger.checkpoint();
        ctx.out(cp ? JSON.stringify({ seq: cp.seq, head_hash: cp.headHash, kid: cp.kid, jws: cp.jws }) : "the ledger is empty: nothing to checkpoint");
      }),
  },
  keys: {
    help: "ledger signing keys: `keys rotate` activates a new one (the previous stays published forever), `keys list [--json]` (--json: as /ledger/keys.json)",
    run: async (ctx, args) => {
      const ring = keyRingOf(ctx);
      if (args[0] === "rotate") {
        const kid = await ring.rotate();
        ctx.out(`new ledger key ${kid} is active (running brokers sign with it within 10 s); every earlier key stays published at /ledger/keys.json`);
      } else if (args[0] === "list" && args.includes("--json")) {
        ctx.out(JSON.stringify(await ring.published()));
      } else if (args[0] === "list") {
        for (const k of await ring.list()) ctx.out(`${k.kid}  ${k.alg}  activated ${k.activatedAt.toISOString()}  ${k.retiredAt ? `retired ${k.retiredAt.toISOString()}` : "active"}`);
      } else {
        throw new Error("usage: link-broker ledger keys <rotate|list [--json]>");
      }
    },
  },
};
