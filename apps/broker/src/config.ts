import { randomBytes, randomUUID } from "node:crypto";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { getHeapStatistics } from "node:v8";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Type, type Static } from "typebox";
import { Value } from "typebox/value";
import { keyIdOf } from "./crypto/seal.ts";
import { type Cidr, parseCidrList } from "./net/address-policy.ts";
import { parseRateLimits, type RateLimits, RateLimitsError } from "./plugins/rate-limit-policy.ts";

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
  BROKER_MASTER_KEY_PREVIOUS: Type.Optional(
    Type.String({ minLength: 1, description: "Comma-separated older master keys that still open sealed values while rotating (`pnpm cli keys rewrap` re-seals).", docDefault: "unset" }),
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
  BROKER_MAX_EVENT_LOOP_DELAY_MS: Type.Optional(
    Type.Integer({ minimum: 0, description: "Mean event-loop delay (ms) past which requests answer 503 with `Retry-After` (health routes excepted); `0` turns it off.", docDefault: "`1000` in production, else off" }),
  ),
  BROKER_MAX_HEAP_USED_MB: Type.Optional(Type.Integer({ minimum: 16, description: "V8 heap in use (MB) past which requests answer 503 with `Retry-After`.", docDefault: "90% of V8's heap limit" })),
  BROKER_INSTANCE_ID: Type.Optional(
    Type.String({ minLength: 8, maxLength: 100, pattern: "^[A-Za-z0-9_-]+$", description: "The id `/healthz` answers, so a launcher can tell its broker from another process on the port (`pnpm start` sets one per start).", docDefault: "random per start" }),
  ),
  BROKER_TRUST_PROXY: Type.Optional(
    Type.String({
      minLength: 1,
      description: "Proxies whose `X-Forwarded-For` is believed for the caller's address (per-IP limits): comma-separated addresses and CIDRs, or a hop count (only when nothing reaches the broker except through that many proxies); `none` believes nobody.",
      docDefault: "none",
      example: "10.0.0.0/8",
    }),
  ),
  BROKER_EVENTS_EXPIRING_DAYS: Type.Integer({ default: 14, minimum: 1, maximum: 365, description: "How many days before a consent expires its bank gets `consent.expiring` (once per consent and expiry)." }),
  BROKER_RATE_LIMITS: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "JSON merged over the default rate limits, per endpoint (`token`, `par`, `register`, `introspect`, `revoke`, `link`, `link_2fa`, `events_poll`) and per caller address (`per_ip`) or client (`per_client`; for `link_2fa`, per link attempt), each `COUNT/WINDOW` with the window in `s`, `m` or `h`. README \"Rate limits\" gives the defaults.",
      docDefault: "the defaults in README",
      example: '{"token":{"per_ip":"3000/10s","per_client":"2000/10s"}}',
    }),
  ),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Serve `/metrics` only on this port (an operations listener on `HOST`, apart from the public one).", docDefault: "unset", example: 9464 })),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 32, description: "Without `METRICS_PORT`: `/metrics` on the public port answers only `Authorization: Bearer <token>` (≥ 32 chars).", docDefault: "unset" })),
  BROKER_DOCS: Type.Optional(Type.Union([Type.Literal("true"), Type.Literal("false")], { description: "`true` / `false`: serve the OpenAPI document and UI at `/docs`.", docDefault: "`true`, but `false` in production" })),
  LOG_LEVEL: Type.Union(
    [Type.Literal("fatal"), Type.Literal("error"), Type.Literal("warn"), Type.Literal("info"), Type.Literal("debug"), Type.Literal("trace"), Type.Literal("silent")],
    { default: "info", description: "pino level: fatal, error, warn, info, debug, trace or silent." },
  ),
});
export type Env = Static<typeof EnvSchema>;

export interface MasterKeyConfig {
  readonly kid: string;
  readonly key: Buffer;
}

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
  readonly masterKey: MasterKeyConfig;
  /** Older master keys that still open values sealed under them (rotation; `keys rewrap` re-seals). */
  readonly previousMasterKeys: readonly MasterKeyConfig[];
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
  /**
   * Answered by /healthz, so whoever started this broker can tell it from another process on the
   * same port (pnpm start passes a fresh one per start); random when unset.
   */
  readonly instanceId: string;
  /** Load shedding: past either limit, requests answer 503 with Retry-After (health routes excepted). */
  readonly loadShedding: { readonly maxEventLoopDelayMs: number; readonly maxHeapUsedBytes: number };
  /** Broker processes on this host sharing the port (node:cluster); 1 runs the broker in this process. */
  readonly workers: number;
  /**
   * Whose `X-Forwarded-For` is believed (Fastify's `trustProxy`): false (nobody, the default), a
   * hop count, or the proxies' addresses and CIDRs. Per-IP limits key on the address it yields.
   */
  readonly trustProxy: false | number | readonly string[];
  /** Days before a consent's expiry that its bank hears `consent.expiring`. */
  readonly eventsExpiringDays: number;
  /** Per endpoint: the defaults with BROKER_RATE_LIMITS merged over them. */
  readonly rateLimits: RateLimits;
  /** Serve /metrics on this port only (an operations listener apart from the public one). */
  readonly metricsPort: number | undefined;
  /** Or: /metrics on the public listener answers only `Authorization: Bearer <token>`. */
  readonly metricsToken: string | undefined;
  /** /docs (OpenAPI): on by default outside production, off in production unless BROKER_DOCS=true. */
  readonly docs: boolean;
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
  const previousMasterKeys = (env.BROKER_MASTER_KEY_PREVIOUS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((value, i) => {
      const key = decodeMasterKey(value);
      if (!key) throw new ConfigError("BROKER_MASTER_KEY_PREVIOUS", `key ${i + 1} must be 32 bytes encoded as base64`);
      return Object.freeze({ kid: keyIdOf(key), key });
    })
    .filter((k) => k.kid !== masterKey.kid);

  let registrationToken = env.BROKER_REGISTRATION_TOKEN;
  if (!registrationToken) {
    if (production) throw new ConfigError("BROKER_REGISTRATION_TOKEN", "is required when NODE_ENV=production");
    registrationToken = devSecret(dataDir, "registration-token", () => randomBytes(32).toString("base64url"));
    warn(`BROKER_REGISTRATION_TOKEN is not set; using the development token in ${join(dataDir, "registration-token")}`);
  }

  const workers = env.BROKER_WORKERS === "auto" ? availableParallelism() : Number(env.BROKER_WORKERS);
  // Several processes share state only through Postgres; an embedded database belongs to one.
  if (workers > 1 && env.DATABASE_URL === undefined) throw new ConfigError("BROKER_WORKERS", "above 1 needs DATABASE_URL (the embedded database serves one process)");

  const trustProxy = parseTrustProxy(env.BROKER_TRUST_PROXY);
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT === env.PORT) throw new ConfigError("METRICS_PORT", "must differ from PORT (it is the operations listener)");

  let rateLimits: RateLimits;
  try {
    rateLimits = parseRateLimits(env.BROKER_RATE_LIMITS);
  } catch (err) {
    if (err instanceof RateLimitsError) throw new ConfigError("BROKER_RATE_LIMITS", err.message);
    throw err;
  }

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
    previousMasterKeys: Object.freeze(previousMasterKeys),
    registrationToken,
    messengerGraphUrl: graph.href.replace(/\/$/, ""),
    messengerRedirectAllowlist: Object.freeze(allowlist),
    outboundAllowlist: Object.freeze(outboundAllowlist),
    production,
    logLevel: env.LOG_LEVEL,
    workers,
    instanceId: env.BROKER_INSTANCE_ID ?? randomUUID(),
    loadShedding: Object.freeze({
      // Off outside production unless set: a laptop busy compiling is not a broker to shed load from.
      maxEventLoopDelayMs: env.BROKER_MAX_EVENT_LOOP_DELAY_MS ?? (production ? 1000 : 0),
      // Default: 90% of V8's heap limit, short of the point where the process would die.
      maxHeapUsedBytes: env.BROKER_MAX_HEAP_USED_MB !== undefined ? env.BROKER_MAX_HEAP_USED_MB * 1024 * 1024 : Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    }),
    trustProxy,
    eventsExpiringDays: env.BROKER_EVENTS_EXPIRING_DAYS,
    rateLimits,
    metricsPort: env.METRICS_PORT,
    metricsToken: env.METRICS_TOKEN,
    docs: env.BROKER_DOCS === undefined ? !production : env.BROKER_DOCS === "true",
  });
}

/** `BROKER_TRUST_PROXY`: unset or `none`, a hop count, or comma-separated addresses and CIDRs. */
export function parseTrustProxy(value: string | undefined): Config["trustProxy"] {
  if (value === undefined || value.trim() === "none") return false;
  if (/^\d+$/.test(value.trim())) {
    const hops = Number(value.trim());
    if (hops < 1 || hops > 10) throw new ConfigError("BROKER_TRUST_PROXY", "a hop count must be between 1 and 10");
    return hops;
  }
  const entries = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    const [address = "", prefix, extra] = entry.split("/");
    const family = isIP(address);
    const bits = family === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (!family || !prefixOk || extra !== undefined) throw new ConfigError("BROKER_TRUST_PROXY", `${entry} is not an IP address or CIDR (give a hop count, or addresses and CIDRs)`);
  }
  if (entries.length === 0) throw new ConfigError("BROKER_TRUST_PROXY", "give a hop count, or addresses and CIDRs");
  return Object.freeze(entries);
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
  const key = decodeMasterKey(value);
  if (!key) throw new ConfigError("BROKER_MASTER_KEY", "must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`)");
  return { kid: keyIdOf(key), key };
}

function decodeMasterKey(value: string): Buffer | undefined {
  const key = Buffer.from(value, "base64");
  return key.length === 32 && key.toString("base64") === value.replace(/\s/g, "") ? key : undefined;
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
