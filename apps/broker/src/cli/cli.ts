// The admin CLI: `pnpm cli <group> <command> [options]`, also the `link-broker` bin.
// Arguments are parsed by node:util parseArgs in strict mode: an unknown option or a bad value is
// one line on stderr and exit code 2; `--help` works on every level and exits 0. Each group lives
// in its own `<group>-commands.ts`. Commands that only read never migrate the database; commands
// that write apply pending migrations first.
// Help and usage errors answer before the config, the database layer or any command's
// implementation is loaded, so they are instant.
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Db } from "@link-broker/db";
import type { Config } from "../config.ts";
import { argsErrorLine, formatCommandHelp, formatGroupHelp, formatTopHelp, isoDateError, joinDashValues, UsageError, type CliCommand, type CliGroup } from "./cli-command.ts";

const groups: Record<string, () => Promise<CliGroup>> = {
  migrate: async () => (await import("./migrate-command.ts")).migrateCommand,
  staff: async () => (await import("./staff-commands.ts")).staffCommands,
  clients: async () => (await import("./clients-commands.ts")).clientsCommands,
  keys: async () => (await import("./keys-commands.ts")).keysCommands,
  ledger: async () => (await import("./ledger-commands.ts")).ledgerCommands,
  customers: async () => (await import("./customers-commands.ts")).customersCommands,
};

const isHelp = (arg: string | undefined) => arg === "--help" || arg === "-h";
const out = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);

/** One line, exit 2: what was wrong and where to look. */
function usageFailure(message: string, where: string): never {
  process.stderr.write(`link-broker: ${message.split("\n")[0]} (see \`${where} --help\`)\n`);
  process.exit(2);
}

async function loadGroups(): Promise<Record<string, CliGroup>> {
  return Object.fromEntries(await Promise.all(Object.entries(groups).map(async ([name, load]) => [name, await load()] as const)));
}

async function resolve(argv: string[]): Promise<{ path: string; command: CliCommand; args: string[] }> {
  const [groupName, ...rest] = argv;
  if (groupName === undefined || isHelp(groupName)) {
    out(formatTopHelp(await loadGroups()));
    process.exit(groupName === undefined ? 2 : 0);
  }
  const load = groups[groupName];
  if (!load) usageFailure(`unknown command '${groupName}'`, "link-broker");
  const group = await load();
  const single = group.commands[""];
  if (single) return { path: `link-broker ${groupName}`, command: single, args: rest };
  const [first, ...afterFirst] = rest;
  if (first === undefined || isHelp(first)) {
    out(formatGroupHelp(groupName, group));
    process.exit(first === undefined ? 2 : 0);
  }
  // A two-word command (`ledger keys rotate`) wins over a one-word one.
  const two = afterFirst[0] !== undefined ? `${first} ${afterFirst[0]}` : undefined;
  const commandName = two !== undefined && group.commands[two] ? two : first;
  const args = commandName === two ? afterFirst.slice(1) : afterFirst;
  const command = group.commands[commandName];
  if (!command) usageFailure(`unknown command '${groupName} ${commandName}'`, `link-broker ${groupName}`);
  return { path: `link-broker ${groupName} ${commandName}`, command, args };
}

function parse(path: string, command: CliCommand, args: string[]): Record<string, string | boolean | string[] | undefined> {
  const options = Object.fromEntries(Object.entries(command.options ?? {}).map(([name, o]) => [name, { type: o.type, ...(o.multiple ? { multiple: true } : {}) }]));
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: joinDashValues(args, command.options ?? {}), options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }));
  } catch (err) {
    usageFailure(argsErrorLine((err as Error).message), path);
  }
  if (values.help) {
    out(formatCommandHelp(path, command));
    process.exit(0);
  }
  for (const [name, o] of Object.entries(command.options ?? {})) {
    if (o.required && values[name] === undefined) usageFailure(`--${name} is required`, path);
    const given = values[name];
    for (const v of Array.isArray(given) ? given : typeof given === "string" ? [given] : []) {
      if (o.choices && !o.choices.includes(v)) usageFailure(`--${name} must be ${o.choices.join(" or ")}`, path);
      if (o.date && isoDateError(v)) usageFailure(`--${name} ${isoDateError(v)}`, path);
    }
  }
  return values;
}

async function main(argv: string[]) {
  const { path, command, args } = await resolve(argv);
  const values = parse(path, command, args);
  const offline = command.withoutDb?.(values);
  if (offline) {
    // Needs neither the broker's configuration nor its database (e.g. verifying an export file).
    try {
      await offline((line) => process.stdout.write(`${line}\n`));
    } catch (err) {
      if (err instanceof UsageError) usageFailure(err.message, path);
      process.stderr.write(`link-broker: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
    return;
  }
  const { ConfigError, loadConfig } = await import("../config.ts");
  const { createDb, migrateAsOwner, migrationStatus } = await import("@link-broker/db");
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
  let db: Db | undefined;
  try {
    db = await createDb({ url: config.databaseUrl ?? join(config.dataDir, "pglite") });
    if (command.access === "write") await migrateAsOwner(db, config.databaseMigrationUrl);
    else if (command.access === "read") {
      // A command that only reads never changes the schema behind the operator's back.
      const { pending } = await migrationStatus(db);
      if (pending.length) throw new Error(`the database has ${pending.length} pending migration(s): run \`link-broker migrate\` first`);
    }
    const opened = db;
    await command.run({ config, db, out: (line) => process.stdout.write(`${line}\n`), migrate: () => migrateAsOwner(opened, config.databaseMigrationUrl) }, values);
  } catch (err) {
    if (err instanceof UsageError) usageFailure(err.message, path);
    process.stderr.write(`link-broker: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await db?.close();
  }
}

await main(process.argv.slice(2));
