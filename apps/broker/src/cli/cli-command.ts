import type { Db } from "@link-broker/db";
import type { Config } from "../config.ts";

export interface CliContext {
  config: Config;
  db: Db;
  out: (line: string) => void;
  /** Applies pending migrations as the owning role (the boot helper; only cli.ts touches the db package). */
  migrate: () => Promise<{ applied: string[] }>;
}

export interface CliOption {
  type: "string" | "boolean";
  description: string;
  required?: boolean;
  multiple?: boolean;
  /** Allowed values of a string option; anything else is a usage error (exit 2). */
  choices?: readonly string[];
  /** An ISO date (2026-01-31 or 2026-01-31T12:00:00Z); anything else is a usage error. */
  date?: boolean;
  /** Shown in help, e.g. "EMAIL". */
  value?: string;
}

export type CliValues = Record<string, string | boolean | string[] | undefined>;

export interface CliCommand {
  summary: string;
  options?: Record<string, CliOption>;
  /**
   * `read`: never migrates (refuses a database with pending migrations); `write`: applies pending
   * migrations first; `migrate`: the migrate command itself.
   */
  access: "read" | "write" | "migrate";
  run(ctx: CliContext, values: CliValues): Promise<void>;
  /** For these values, the command needs neither configuration nor database (e.g. verifying an export file). */
  withoutDb?: (values: CliValues) => ((out: (line: string) => void) => Promise<void>) | undefined;
}

/** A command group; a group with a single "" command is a command itself (`migrate`). */
export interface CliGroup {
  summary: string;
  commands: Record<string, CliCommand>;
}

/** A bad option value found while running (exit 2, like a parse error). */
export class UsageError extends Error {}

export const str = (values: CliValues, name: string): string | undefined => (typeof values[name] === "string" ? (values[name] as string) : undefined);

/**
 * Joins `--name VALUE` into `--name=VALUE` when VALUE starts with one dash (a client id or a
 * customer id may): parseArgs would refuse it as ambiguous, naming a fix on a line the one-line
 * usage error drops. `-h` and values starting with `--` are left to parseArgs.
 */
export function joinDashValues(args: readonly string[], options: Record<string, Pick<CliOption, "type">>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg.startsWith("--") && options[arg.slice(2)]?.type === "string" && next !== undefined && /^-[^-]/.test(next) && next !== "-h") {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

/** parseArgs's message as one line an operator can act on (its "ambiguous" names the fix lines later). */
export function argsErrorLine(message: string): string {
  const ambiguous = /^Option '(--[a-z-]+)' argument is ambiguous/.exec(message);
  if (ambiguous) return `${ambiguous[1]} needs a value (one that starts with a dash is written ${ambiguous[1]}=VALUE)`;
  return message.split("\n")[0]!.replace(/\. To specify a positional.*$/, "");
}

export function isoDateError(raw: string): string | undefined {
  return /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) && !Number.isNaN(new Date(raw).getTime()) ? undefined : "must be an ISO date (2026-01-31 or 2026-01-31T12:00:00Z)";
}

/** A `date: true` option's value (checked while parsing). */
export function isoDate(values: CliValues, name: string): Date | undefined {
  const raw = str(values, name);
  return raw === undefined ? undefined : new Date(raw);
}

function optionLines(command: CliCommand): string[] {
  const lines = Object.entries(command.options ?? {}).map(([name, o]) => {
    const flag = o.type === "string" ? `--${name} ${o.value ?? (o.choices ? o.choices.join("|") : "VALUE")}` : `--${name}`;
    return `  ${flag.padEnd(34)} ${o.description}${o.required ? " (required)" : ""}${o.multiple ? " (repeatable)" : ""}`;
  });
  return [...lines, `  ${"-h, --help".padEnd(34)} show this help`];
}

export function formatTopHelp(groups: Record<string, CliGroup>): string {
  const lines = ["usage: link-broker <command> [options]", "", "commands:"];
  for (const [name, g] of Object.entries(groups)) {
    const subs = Object.keys(g.commands).filter(Boolean);
    lines.push(`  ${`${name}${subs.length ? ` ${subs.join("|")}` : ""}`.padEnd(40)} ${g.summary}`);
  }
  lines.push("", "`link-broker <command> --help` describes a command and its options.");
  return lines.join("\n");
}

export function formatGroupHelp(name: string, group: CliGroup): string {
  const lines = [`usage: link-broker ${name} <command> [options]`, "", group.summary, "", "commands:"];
  for (const [sub, c] of Object.entries(group.commands)) lines.push(`  ${sub.padEnd(14)} ${c.summary}`);
  lines.push("", `\`link-broker ${name} <command> --help\` lists its options.`);
  return lines.join("\n");
}

export function formatCommandHelp(path: string, command: CliCommand): string {
  return [`usage: ${path} [options]`, "", command.summary, "", "options:", ...optionLines(command)].join("\n");
}
