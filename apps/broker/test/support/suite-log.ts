// The secrecy check over the whole suite. Every broker a test builds (through `buildTestApp`)
// writes its log lines, at debug level unless the test asks for another, to a file of the run,
// and records every secret that crosses its HTTP boundary: in a request (Authorization header,
// cookies, query, body) or in a response (JSON fields, Location parameters, cookies, the TOTP
// enrolment page). At the end of the run, test/support/suite-log-global.ts searches every line for
// every secret (test/support/suite-log-scan.ts). The run's directory comes from the global setup
// in LB_SUITE_LOG_DIR; without it (a single file run by StrykerJS) brokers are built as before.
import { randomBytes } from "node:crypto";
import { openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { buildApp, type AppDeps } from "../../src/app.ts";

/** Field and parameter names whose values are secrets, wherever they appear. */
const SECRET_FIELDS = new Set([
  "client_secret",
  "registration_access_token",
  "access_token",
  "refresh_token",
  "id_token",
  "token",
  "code",
  "authorization_code",
  "code_verifier",
  "account_linking_token",
  "client_assertion",
  "request_uri",
  "page_access_token",
  "app_secret",
  "verify_token",
  "hub.verify_token",
  "client_secret_jwt",
  "password",
  "secret",
  "recovery_code",
  "recovery_codes",
  "totp_secret",
  "csrf",
]);

interface SuiteFiles {
  log: number;
  secrets: number;
}
const filesByDir = new Map<string, SuiteFiles>();

function suiteFiles(dir: string): SuiteFiles {
  let files = filesByDir.get(dir);
  if (!files) {
    // One pair of files per test worker; written synchronously, so a worker that exits loses nothing.
    const id = `${process.pid}-${randomBytes(4).toString("hex")}`;
    files = { log: openSync(join(dir, `log-${id}.ndjson`), "a"), secrets: openSync(join(dir, `secrets-${id}.tsv`), "a") };
    filesByDir.set(dir, files);
  }
  return files;
}

/** Records one secret (kind, value) for the final check; too short values are left out. */
function recorder(fd: number) {
  const seen = new Set<string>();
  return (kind: string, value: unknown) => {
    if (typeof value !== "string") return;
    const v = value.trim();
    // Secrets look like tokens: printable, no spaces, varied. A test's hostile input sent where
    // a token goes (an SQL-looking string, "aaaa…") is no secret, and may rightly be logged.
    if (!/^[\x21-\x7e]{12,}$/.test(v) || new Set(v).size < 8 || seen.has(v)) return;
    seen.add(v);
    writeSync(fd, `${kind}\t${v}\n`);
  };
}

type Record_ = ReturnType<typeof recorder>;

function walk(record: Record_, value: unknown, key = "", depth = 0): void {
  if (depth > 6 || value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const v of value) walk(record, v, key, depth + 1);
    return;
  }
  if (typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(record, v, k, depth + 1);
    return;
  }
  if (SECRET_FIELDS.has(key)) record(key, value);
}

function recordHeaders(record: Record_, request: FastifyRequest) {
  const authorization = request.headers.authorization;
  if (typeof authorization === "string") {
    const [scheme, credential = ""] = authorization.split(" ", 2);
    record("authorization", credential);
    if (scheme?.toLowerCase() === "basic") {
      const decoded = Buffer.from(credential, "base64").toString("utf8");
      record("basic_password", decoded.slice(decoded.indexOf(":") + 1));
    }
  }
  for (const part of (request.headers.cookie ?? "").split(";")) record("cookie", part.slice(part.indexOf("=") + 1));
  const q = request.url.indexOf("?");
  if (q >= 0) for (const [k, v] of new URLSearchParams(request.url.slice(q + 1))) if (SECRET_FIELDS.has(k)) record(k, v);
}

function recordResponse(record: Record_, reply: FastifyReply, payload: unknown) {
  const location = reply.getHeader("location");
  if (typeof location === "string") {
    try {
      for (const [k, v] of new URL(location, "http://x").searchParams) if (SECRET_FIELDS.has(k)) record(k, v);
    } catch {
      // not a URL: nothing to record
    }
  }
  const cookies = reply.getHeader("set-cookie");
  for (const c of Array.isArray(cookies) ? cookies : typeof cookies === "string" ? [cookies] : []) record("set-cookie", c.slice(c.indexOf("=") + 1).split(";")[0]);
  if (typeof payload !== "string") return;
  const type = String(reply.getHeader("content-type") ?? "");
  if (type.includes("json")) {
    try {
      walk(record, JSON.parse(payload));
    } catch {
      // not JSON after all
    }
  } else if (type.includes("html")) {
    // The TOTP enrolment page: the otpauth URI's secret and the recovery codes it shows once.
    for (const m of payload.matchAll(/[?&]secret=([A-Z2-7]+)/g)) record("totp_secret", m[1]);
    for (const m of payload.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)) record("recovery_code", m[1]);
  }
}

/** Adds the secret recorder to a broker that is not yet ready. */
function recordSecrets(app: FastifyInstance, fd: number): void {
  const record = recorder(fd);
  app.addHook("onSend", async (request, reply, payload) => {
    recordHeaders(record, request);
    walk(record, request.body);
    recordResponse(record, reply, payload);
    return payload;
  });
}

/** Writes each line to the run's log file, and to the test's own stream if it gave one. */
function teeStream(fd: number, own?: { write(line: string): void }) {
  return {
    write(line: string) {
      writeSync(fd, line.endsWith("\n") ? line : `${line}\n`);
      own?.write(line);
    },
  };
}

/** The level every broker of the suite logs at, unless the test sets its own (LOG_LEVEL). */
const SUITE_LEVEL = (process.env.LB_SUITE_LOG_LEVEL ?? "debug") as AppDeps["config"]["logLevel"];

/**
 * `buildApp` for tests: the same broker, its logs written to the run's log file and the secrets
 * it handles recorded (see the top of this file). A test that silences logs (`logger: false`, the
 * default config's `silent`) still logs to the run's file at the suite's level.
 */
export async function buildTestApp(given: AppDeps, dir = process.env.LB_SUITE_LOG_DIR): Promise<FastifyInstance> {
  // Periodic tasks run only when a test runs them by name (`modules.scheduler.run`) or asks for
  // them (`startScheduler: true`): a tick on its own would land between a test's steps on a slow
  // machine (the links reconciler revoking a grant before the introspection under test).
  const deps: AppDeps = { startScheduler: false, ...given };
  if (!dir) return buildApp(deps);
  const fds = suiteFiles(dir);
  const level = deps.logger === false || deps.config.logLevel === "silent" ? SUITE_LEVEL : deps.config.logLevel;
  // A test that asked for logs keeps them: in its own stream, or on stdout as buildApp would.
  const own = deps.logger === false ? undefined : (deps.logStream ?? process.stdout);
  const app = await buildApp({ ...deps, config: { ...deps.config, logLevel: level }, logger: true, logStream: teeStream(fds.log, own) });
  recordSecrets(app, fds.secrets);
  return app;
}
