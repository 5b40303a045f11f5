// The admin CLI: `pnpm cli <group> <command> [args]` (also the `link-broker` bin).
// Each group lives in its own `<group>-commands.ts` and gets the parsed config and a database.
import { join } from "node:path";
import { createDb, migrateAsOwner } from "@link-broker/db";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import type { CliGroup } from "./cli-context.ts";

const groups: Record<string, () => Promise<CliGroup>> = {
  migrate: async () => ({
    "": {
      help: "apply pending migrations",
      run: async ({ db, config, out }) => {
        const { applied } = await migrateAsOwner(db, config.databaseMigrationUrl);
        out(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      },
    },
  }),
  keys: async () => (await import("./keys-commands.ts")).keysCommands,
  ledger: async () => (await import("./ledger-commands.ts")).ledgerCommands,
};

function usage(): string {
  return `usage: link-broker <${Object.keys(groups).join("|")}> [command] [args]`;
}

async function main(argv: string[]) {
  const [groupName, ...rest] = argv;
  const loadGroup = groupName ? groups[groupName] : undefined;
  if (!loadGroup) {
    process.stderr.write(`${usage()}\n`);
    process.exit(2);
  }
  const group = await loadGroup();
  const commandName = group[""] ? "" : (rest.shift() ?? "");
  const command = group[commandName];
  if (!command) {
    process.stderr.write(`usage: link-broker ${groupName} <${Object.keys(group).join("|")}>\n`);
    process.exit(2);
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const offline = command.withoutDb?.(rest);
  if (offline) {
    await offline(out).catch((err: Error) => {
      process.stderr.write(`link-broker: ${err.message}\n`);
      process.exitCode = 1;
    });
    return;
  }
  let config: Config;
  try {
    config = loadConfig(process.env, { dataDir: join(process.env.INIT_CWD ?? process.cwd(), ".data") });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`link-broker: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const db = await createDb({ url: config.databaseUrl ?? join(config.dataDir, "pglite") });
  try {
    if (groupName !== "migrate") await migrateAsOwner(db, config.databaseMigrationUrl);
    await command.run({ config, db, out }, rest);
  } catch (err) {
    process.stderr.write(`link-broker: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await db.close();
  }
}

await main(process.argv.slice(2));
