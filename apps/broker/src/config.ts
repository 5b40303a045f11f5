import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Type, type Static } from "typebox";
import { Value } from "typebox/value";
import { keyIdOf } from "./crypto/seal.ts";
import { type Cidr, parseCidrList } from "./net/address-policy.ts";

/**
 * The environment variables of DESIGN.md "Configuration", as one schema. Each has a
 * `description`, and `docDefault` where the default is not a plain value: README's table and
 * `.env.example` are generated from here (`pnpm config:docs`), and a test fails when they drift.
 */
export const EnvSchema = Type.Object({
  HOST: Type.String({ default: "127.0.0.1", minLength: 1, description: "Listen address." }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: "Listen port." }),
  PUBLIC_URL: Type.Optional(Type.String({ minLength: 1, description: "The issuer and base of every URL the broker hands out.", docDefault: "`http://localhost:$PORT`", example: "https://broker.example.com" })),
  DATABASE_URL: Type.Optional(Type.String({ minLength: 1, description: "`postgres://...`; unset → embedded PGlite under `.data/pglite`.", docDefault: "unset", example: "postgres://postgres@127.0.0.1:5432/link_broker" })),
  DATABASE_MIGRATION_URL: Type.Optional(
    Type.String({ minLength: 1, description: "The owning role for migrations, when `DATABASE_URL` is a least-privilege runtime role (`prisma/runtime-role.sql`).", docDefault: "`DATABASE_URL`", example: "postgres://owner@127.0.0.1:5432/link_broker" }),
  ),
  LEDGER_CHECKPOINT_FILE: Type.Optional(Type.String({ minLength: 1, description: "Each signed ledger checkpoint is also appended to this file (ship it to WORM storage); `ledger verify --checkpoints FILE` checks against it.", docDefault: "unset", example: "/var/lib/link-broker/checkpoints.jsonl" })),
  LEDGER_JURISDICTION: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "The `jurisdiction` of consent receipts (Kantara CR v1.1).", docDefault: "`unspecified`", example: "GB" })),
  BROKER_MASTER_KEY: Type.Optional(
    Type.String({
      minLength: 1,
      description: "32 bytes, base64 (`openssl rand -base64 32`): seals secrets at rest; required in production.",
      docDefault: "dev: generated once into `.data/master.key`, with a warning",
    }),
  ),
  BROKER_REGISTRATION_TOKEN: Type.Optional(
    Type.String({ minLength: 32, description: "Initial access token for `POST /connect/register` (≥ 32 chars); also the compliance credential of the ledger's read routes.", docDefault: "dev: generated once into `.data/registration-token`" }),
  ),
  MESSENGER_GRAPH_URL: Type.String({ default: "https://graph.facebook.com/v23.0", description: "Graph API base." }),
  MESSENGER_REDIRECT_ALLOWLIST: Type.String({
    default: "https://www.facebook.com/messenger_platform/account_linking",
    description: "Comma-separated URL prefixes a Messenger `redirect_uri` must start with.",
  }),
  NODE_ENV: Type.Optional(Type.String({ description: "`production` turns on every production check (secure cookies, required keys, https only).", example: "production" })),
  BROKER_OUTBOUND_ALLOWLIST: Type.Optional(
    Type.String({
      description: "Comma-separated addresses or CIDRs the broker may fetch from although they are internal (loopback for tests and the sandbox); refused in production. `pnpm start` sets loopback.",
      docDefault: "unset: public addresses only",
      example: "127.0.0.0/8,::1",
    }),
  ),
  BROKER_WORKERS: Type.String({
    pattern: "^(auto|[1-9][0-9]{0,2})$",
    default: "1",
    description: "Broker processes on this host sharing the port (node:cluster), a number or `auto` (one per core); above 1 needs `DATABASE_URL`.",
  }),
  LOG_LEVEL: Type.Union(
    [Type.Literal("fatal"), Type.Literal("error"), Type.Literal("warn"), Type.Literal("info"), Type.Literal("debug"), Type.Literal("trace"), Type.Literal("silent")],
    { default: "info", description: "pino level: fatal, error, warn, info, debug, trace or silent." },
  ),
});
export type Env = Static<typeof EnvSchema>;

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  /** Postgres URL, or undefined for embedded PGlite under dataDir. */
  readonly databaseUrl: string | undefined;
  /** The owning role's URL for migrations, when databaseUrl is a least-privilege runtime role. */
  readonly databaseMigrationUrl: string | undefined;
  /** Each signed ledger checkpoint is also appended here (for WORM storage). */
  readonly ledgerCheckpointFile: string | undefined;
  /** The Kantara `jurisdiction` of consent receipts. */
  readonly ledgerJurisdiction: string | undefined;
  readonly dataDir: string;
  readonly masterKey: { readonly kid: string; readonly key: Buffer };
  readonly registrationToken: string;
  readonly messengerGraphUrl: string;
  readonly messengerRedirectAllowlist: readonly string[];
  /**
   * Internal addresses (CIDRs) the broker may still fetch from when a registrant's URL names them:
   * loopback for tests and the sandbox, outside production only. Empty: public addresses only.
   */
  readonly outboundAllowlist: readonly Cidr[];
  readonly production: boolean;
  readonly logLevel: Env["LOG_LEVEL"];
  /** Broker processes on this host sharing the port (node:cluster); 1 runs the broker in this process. */
  readonly workers: number;
}

/** A configuration problem; main prints its one-line message and exits without a stack. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

export interface LoadConfigOptions {
  /** Where dev-only generated material lives (default `.data/`). */
  dataDir?: string;
  /** Told about generated dev keys. */
  warn?: (message: string) => void;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK.has(url.hostname) || url.hostname.endsWith(".localhost");
}

/**
 * An outbound or redirect URL the broker may use: https always; http only on loopback and only
 * outside production.
 */
export function checkUrl(raw: string, production: boolean): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a valid URL";
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && !production && isLoopbackUrl(url)) return url;
  return production ? "must be an https:// URL" : "must be https://, or http:// on loopback";
}

export function loadConfig(rawEnv: NodeJS.ProcessEnv, options: LoadConfigOptions = {}): Config {
  const env = parseEnv(rawEnv);
  const production = env.NODE_ENV === "production";
  const dataDir = resolve(options.dataDir ?? ".data");
  const warn = options.warn ?? (() => {});

  const publicUrlRaw = env.PUBLIC_URL ?? `http://localhost:${env.PORT}`;
  const publicUrl = checkUrl(publicUrlRaw, production);
  if (typeof publicUrl === "string") throw new ConfigError("PUBLIC_URL", publicUrl);

  for (const variable of ["DATABASE_URL", "DATABASE_MIGRATION_URL"] as const) {
    const value = env[variable];
    if (value === undefined) continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(value);
    } catch {}
    if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol) || !parsed.hostname) {
      throw new ConfigError(variable, "must be a postgres://user@host:port/database URL");
    }
  }
  if (env.DATABASE_URL === undefined && production) throw new ConfigError("DATABASE_URL", "is required when NODE_ENV=production");
  if (env.DATABASE_MIGRATION_URL !== undefined && env.DATABASE_URL === undefined) throw new ConfigError("DATABASE_MIGRATION_URL", "needs DATABASE_URL (the embedded database has one role)");

  const graph = checkUrl(env.MESSENGER_GRAPH_URL, production);
  if (typeof graph === "string") throw new ConfigError("MESSENGER_GRAPH_URL", graph);

  const allowlist = env.MESSENGER_REDIRECT_ALLOWLIST.split(",").map((s) => s.trim()).filter(Boolean);
  if (allowlist.length === 0) throw new ConfigError("MESSENGER_REDIRECT_ALLOWLIST", "must name at least one URL prefix");
  for (const prefix of allowlist) {
    const checked = checkUrl(prefix, production);
    if (typeof checked === "string") throw new ConfigError("MESSENGER_REDIRECT_ALLOWLIST", `${prefix} ${checked}`);
  }

  let outboundAllowlist: Cidr[] = [];
  if (env.BROKER_OUTBOUND_ALLOWLIST !== undefined) {
    if (production) throw new ConfigError("BROKER_OUTBOUND_ALLOWLIST", "is for tests and local development only; in production the broker fetches from public addresses only");
    try {
      outboundAllowlist = parseCidrList(env.BROKER_OUTBOUND_ALLOWLIST);
    } catch {
      throw new ConfigError("BROKER_OUTBOUND_ALLOWLIST", "must be comma-separated IP addresses or CIDRs, e.g. 127.0.0.0/8,::1");
    }
  }

  const masterKey = loadMasterKey(env.BROKER_MASTER_KEY, production, dataDir, warn);

  let registrationToken = env.BROKER_REGISTRATION_TOKEN;
  if (!registrationToken) {
    if (production) throw new ConfigError("BROKER_REGISTRATION_TOKEN", "is required when NODE_ENV=production");
    registrationToken = devSecret(dataDir, "registration-token", () => randomBytes(32).toString("base64url"));
    warn(`BROKER_REGISTRATION_TOKEN is not set; using the development token in ${join(dataDir, "registration-token")}`);
  }

  const workers = env.BROKER_WORKERS === "auto" ? availableParallelism() : Number(env.BROKER_WORKERS);
  // Several processes share state only through Postgres; an embedded database belongs to one.
  if (workers > 1 && env.DATABASE_URL === undefined) throw new ConfigError("BROKER_WORKERS", "above 1 needs DATABASE_URL (the embedded database serves one process)");

  return Object.freeze({
    host: env.HOST,
    port: env.PORT,
    publicUrl: publicUrl.href.replace(/\/$/, ""),
    databaseUrl: env.DATABASE_URL,
    databaseMigrationUrl: env.DATABASE_MIGRATION_URL,
    ledgerCheckpointFile: env.LEDGER_CHECKPOINT_FILE === undefined ? undefined : resolve(env.LEDGER_CHECKPOINT_FILE),
    ledgerJurisdiction: env.LEDGER_JURISDICTION,
    dataDir,
    masterKey: Object.freeze(masterKey),
    registrationToken,
    messengerGraphUrl: graph.href.replace(/\/$/, ""),
    messengerRedirectAllowlist: Object.freeze(allowlist),
    outboundAllowlist: Object.freeze(outboundAllowlist),
    production,
    logLevel: env.LOG_LEVEL,
    workers,
  });
}

function parseEnv(rawEnv: NodeJS.ProcessEnv): Env {
  // Only our variables, with empty strings treated as unset.
  const picked: Record<string, unknown> = {};
  for (const name of Object.keys(EnvSchema.properties)) {
    const value = rawEnv[name];
    if (value !== undefined && value !== "") picked[name] = value;
  }
  const withDefaults = Value.Convert(EnvSchema, Value.Default(EnvSchema, picked));
  const errors = Value.Errors(EnvSchema, withDefaults);
  const first = errors[0];
  if (first) {
    const variable = first.instancePath.replace(/^\//, "") || String((first.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? "environment");
    throw new ConfigError(variable, first.message);
  }
  return withDefaults as Env;
}

function loadMasterKey(value: string | undefined, production: boolean, dataDir: string, warn: (m: string) => void) {
  if (!value) {
    if (production) throw new ConfigError("BROKER_MASTER_KEY", "is required when NODE_ENV=production");
    value = devSecret(dataDir, "master.key", () => randomBytes(32).toString("base64"));
    warn(`BROKER_MASTER_KEY is not set; using the development key in ${join(dataDir, "master.key")} (never use it in production)`);
  }
  const key = Buffer.from(value, "base64");
  if (key.length !== 32 || key.toString("base64") !== value.replace(/\s/g, "")) {
    throw new ConfigError("BROKER_MASTER_KEY", "must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`)");
  }
  return { kid: keyIdOf(key), key };
}

/** A development secret generated once into dataDir and reused on every later start. */
function devSecret(dataDir: string, name: string, make: () => string): string {
  const path = join(dataDir, name);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
  return value;
}
