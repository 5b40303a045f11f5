// `pnpm start`: the broker on the embedded database under .data/ (migrated at start) plus the
// sandbox (bank IdP, bank bot, Messenger simulator) under .data/sandbox/. Prints one line with
// the URL to open when both are ready; Ctrl-C stops everything cleanly; a second start reuses
// .data/, so registrations and links survive. A port already taken stops it with one line naming
// the variable to change, and the ready line is printed only once the broker that answers is the
// one this start launched (its /healthz answers this start's instance id).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// `.data/` is where the command was run (pnpm sets INIT_CWD), as for the broker itself.
const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), ".data");

const port = Number(process.env.PORT ?? 3000);
const brokerUrl = (process.env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/$/, "");
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 4000);
const sandboxIdpPort = Number(process.env.SANDBOX_IDP_PORT ?? sandboxPort + 1);
const sandboxUrl = (process.env.SANDBOX_PUBLIC_URL ?? `http://localhost:${sandboxPort}`).replace(/\/$/, "");

/** The initial access token both sides share: from the environment, else generated once into .data/. */
function registrationToken(): string {
  if (process.env.BROKER_REGISTRATION_TOKEN) return process.env.BROKER_REGISTRATION_TOKEN;
  const path = join(dataDir, "registration-token");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString("base64url");
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
  return token;
}

/** Whether `port` can be listened on at `host` right now. */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", () => resolvePort(false));
    server.listen(port, host, () => server.close(() => resolvePort(true)));
  });
}

const host = process.env.HOST ?? "127.0.0.1";
const sandboxHost = process.env.SANDBOX_HOST ?? "127.0.0.1";
for (const [variable, h, p] of [["PORT", host, port], ["SANDBOX_PORT", sandboxHost, sandboxPort], ["SANDBOX_IDP_PORT", sandboxHost, sandboxIdpPort]] as const) {
  if (!(await portFree(h, p))) {
    process.stderr.write(`link-broker: ${variable}: ${h}:${p} is already in use by another process; stop it or set ${variable} to a free port\n`);
    process.exit(1);
  }
}

const token = registrationToken();
const instanceId = randomUUID();
const logLevel = process.env.LOG_LEVEL ?? "warn";

// Node with the tsx loader directly (not through pnpm), so signals reach each process itself.
function run(entry: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: root,
    // Their own output goes to stderr, so stdout carries the one ready line.
    stdio: ["ignore", 2, "inherit"],
    env: { ...process.env, LOG_LEVEL: logLevel, SANDBOX_QUIET: "1", ...env },
  });
}

const broker = run("apps/broker/src/main.ts", {
  INIT_CWD: resolve(dataDir, ".."),
  BROKER_INSTANCE_ID: instanceId,
  BROKER_REGISTRATION_TOKEN: token,
  MESSENGER_GRAPH_URL: process.env.MESSENGER_GRAPH_URL ?? `${sandboxUrl}/graph`,
  MESSENGER_REDIRECT_ALLOWLIST: process.env.MESSENGER_REDIRECT_ALLOWLIST ?? `${sandboxUrl}/messenger_platform/account_linking`,
  // The sandbox's bank provider runs on loopback, which the broker otherwise never fetches from.
  ...(process.env.NODE_ENV === "production" ? {} : { BROKER_OUTBOUND_ALLOWLIST: process.env.BROKER_OUTBOUND_ALLOWLIST ?? "127.0.0.0/8,::1" }),
});
const sandbox = run("apps/sandbox/src/main.ts", {
  BROKER_URL: brokerUrl,
  BROKER_REGISTRATION_TOKEN: token,
  SANDBOX_PORT: String(sandboxPort),
  SANDBOX_IDP_PORT: String(sandboxIdpPort),
  SANDBOX_PUBLIC_URL: sandboxUrl,
  SANDBOX_DATA_DIR: join(dataDir, "sandbox"),
});

let stopping = false;
let exitCode = 0;
const running = new Set<ChildProcess>([broker, sandbox]);

function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const child of running) child.kill("SIGTERM");
  // Whatever has not finished its graceful shutdown in 12 s is stopped hard.
  setTimeout(() => {
    for (const child of running) child.kill("SIGKILL");
    process.exit(exitCode);
  }, 12_000).unref();
}

process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));

let everReady = false;

broker.on("exit", (code, signal) => {
  running.delete(broker);
  if (!stopping && !everReady) {
    // It never served (it said why on stderr): nothing to click, so stop with its failure.
    stopAll(code || 1);
  } else if (!stopping) {
    // The sandbox stays up on purpose: its chat page then shows that the bank is unreachable.
    process.stderr.write(`link-broker: the broker stopped (${signal ?? `exit code ${code}`}); the sandbox keeps running. Press Ctrl-C to quit.\n`);
  }
  if (running.size === 0) process.exit(exitCode);
});
sandbox.on("exit", (code, signal) => {
  running.delete(sandbox);
  if (!stopping) {
    process.stderr.write(`link-broker: the sandbox stopped (${signal ?? `exit code ${code}`}); stopping the broker.\n`);
    stopAll(code ?? 1);
  }
  if (running.size === 0) process.exit(exitCode);
});

async function ready(url: string, check: (body: unknown) => boolean = () => true): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const body = await res.json().catch(() => undefined);
    return res.ok && check(body);
  } catch {
    return false;
  }
}

/** The broker on `port` is this start's broker, and it is ready. */
async function ourBrokerReady(): Promise<boolean> {
  const ours = await ready(`http://127.0.0.1:${port}/healthz`, (b) => (b as { instance?: string } | undefined)?.instance === instanceId);
  return ours && (await ready(`http://127.0.0.1:${port}/readyz`));
}

const started = Date.now();
let brokerReady = false;
let sandboxReady = false;
while (!stopping && Date.now() - started < 120_000) {
  brokerReady ||= await ourBrokerReady();
  sandboxReady ||= await ready(`http://127.0.0.1:${sandboxPort}/healthz`);
  if (brokerReady && sandboxReady) {
    everReady = true;
    process.stdout.write(`link-broker is ready: open ${sandboxUrl}/ (Messenger sandbox; broker at ${brokerUrl})\n`);
    break;
  }
  await new Promise((r) => setTimeout(r, 200));
}
if (!stopping && !(brokerReady && sandboxReady)) {
  process.stderr.write(`link-broker: not ready after 120 s (broker ${brokerReady ? "ready" : "not ready"}, sandbox ${sandboxReady ? "ready" : "not ready"}); press Ctrl-C to stop.\n`);
}
