import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDb } from "@link-broker/db/testing";
import { describe, expect, it } from "vitest";
import { freePort } from "./support/ports.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
// Resolved here, so the child can run from an empty working directory.
const TSX = import.meta.resolve("tsx");

function start(env: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), "lb-main-"));
  const res = spawnSync(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: { PATH: process.env.PATH!, INIT_CWD: cwd, PORT: "0", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: res.status, stderr: res.stderr.split("\n").filter((l) => l && !l.includes("warning:")) };
}

describe("start-up with bad configuration", () => {
  it("stops with one clear line for a malformed BROKER_RATE_LIMITS", () => {
    const { code, stderr } = start({ BROKER_RATE_LIMITS: '{"token":{"per_ip":"lots"}}' });
    expect(code).toBe(1);
    expect(stderr).toEqual(['link-broker: BROKER_RATE_LIMITS: token.per_ip must be "COUNT/WINDOW" such as "3000/10s" (window in s, m or h, at most 24h)']);
  });

  it("stops with one clear line for a malformed BROKER_MASTER_KEY", () => {
    const { code, stderr } = start({ BROKER_MASTER_KEY: "not-a-key" });
    expect(code).toBe(1);
    expect(stderr).toEqual(["link-broker: BROKER_MASTER_KEY: must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`)"]);
  });

  it("stops with one clear line for an unreachable DATABASE_URL, without its password", () => {
    const { code, stderr } = start({ DATABASE_URL: "postgres://user:hunter2@127.0.0.1:1/db" });
    expect(code).toBe(1);
    expect(stderr).toEqual(["link-broker: DATABASE_URL: cannot use postgres at 127.0.0.1:1/db (connection refused)"]);
  });

  it("stops with one clear line for a DATABASE_URL that is not Postgres", () => {
    const { code, stderr } = start({ DATABASE_URL: "mysql://x/y" });
    expect(code).toBe(1);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^link-broker: DATABASE_URL: /);
  });

  it("refuses several workers on the embedded database", () => {
    const { code, stderr } = start({ BROKER_WORKERS: "2" });
    expect(code).toBe(1);
    expect(stderr).toEqual(["link-broker: BROKER_WORKERS: above 1 needs DATABASE_URL (the embedded database serves one process)"]);
  });

  it("requires the production secrets", () => {
    const { code, stderr } = start({ NODE_ENV: "production", PUBLIC_URL: "https://broker.example", BROKER_REGISTRATION_TOKEN: "t".repeat(40) });
    expect(code).toBe(1);
    expect(stderr).toEqual(["link-broker: DATABASE_URL: is required when NODE_ENV=production"]);
  });
});

describe("signals", () => {
  it("writes a diagnostic report on Node's report signal and keeps serving; SIGTERM still stops it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "lb-main-"));
    const port = await freePort();
    const child = spawn(process.execPath, ["--report-on-signal", `--report-directory=${cwd}`, "--import", TSX, MAIN], {
      cwd,
      env: { PATH: process.env.PATH!, INIT_CWD: cwd, PORT: String(port), LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const healthy = async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined);
      await until("the broker to answer", healthy, 60_000);
      child.kill("SIGUSR2");
      await until("the report", () => (readdirSync(cwd).some((f) => f.startsWith("report.") && f.endsWith(".json")) ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      expect(child.exitCode).toBeNull();
      expect(await healthy()).toBe(true);
      expect(out).not.toContain("shutting down");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toContain('"signal":"SIGTERM","msg":"shutting down"');
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 90_000);
});

/** The broker worker processes under `pid` (node:cluster forks of main.ts). */
function workersOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid), "-f", "main.ts"], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The real broker with BROKER_WORKERS=2 on `port`, its output collected as it comes. */
function startWorkers(port: number, databaseUrl: string, extraEnv: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "lb-main-"));
  const child = spawn(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: { PATH: process.env.PATH!, INIT_CWD: cwd, PORT: String(port), DATABASE_URL: databaseUrl, BROKER_WORKERS: "2", LOG_LEVEL: "info", ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
  return {
    child,
    out,
    exited: new Promise<number | null>((resolve) => child.once("exit", resolve)),
    /** Each worker logs its pid when its server listens. */
    listening: (pid: number) => out.stdout.split("\n").some((l) => l.includes(`"pid":${pid},`) && l.includes("Server listening")),
    kill() {
      const workers = workersOf(child.pid!);
      child.kill("SIGKILL");
      for (const pid of workers) process.kill(pid, "SIGKILL");
    },
  };
}

// Several workers need Postgres; this runs in the Postgres pass of the test command.
describe.runIf(process.env.DATABASE_URL)("BROKER_WORKERS", () => {
  it("serves from several processes, replaces one that dies, and stops them all on SIGTERM", async () => {
    const db = await createTestDb();
    const port = await freePort();
    const broker = startWorkers(port, (db as { url?: string }).url!);
    const { child, listening } = broker;
    try {
      const healthy = async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined);
      const first = await until("two workers", () => (workersOf(child.pid!).length === 2 ? workersOf(child.pid!) : undefined));
      await until("both workers to listen", () => (first.every(listening) ? true : undefined), 60_000);
      await until("the broker to answer", healthy);

      process.kill(first[0]!, "SIGKILL");
      const next = await until("a replacement worker", () => {
        const now = workersOf(child.pid!);
        return now.length === 2 && !now.includes(first[0]!) && now.every(listening) ? now : undefined;
      }, 60_000);
      expect(next).toContain(first[1]);
      await until("the broker to answer again", healthy);
      expect(broker.out.stderr).toContain(`worker ${first[0]} exited (SIGKILL); starting another`);

      child.kill("SIGTERM");
      expect(await broker.exited).toBe(0);
      for (const pid of next) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      broker.kill();
      await db.drop();
    }
  }, 180_000);

  it("serves on METRICS_PORT the sum of every worker's metrics", async () => {
    const db = await createTestDb();
    const [port, metricsPort] = [await freePort(), await freePort()];
    const broker = startWorkers(port, (db as { url?: string }).url!, { METRICS_PORT: String(metricsPort) });
    const { child, listening } = broker;
    try {
      const pids = await until("two workers", () => (workersOf(child.pid!).length === 2 ? workersOf(child.pid!) : undefined));
      await until("both workers to listen", () => (pids.every(listening) ? true : undefined), 60_000);
      // Fresh connections, so the cluster spreads them over both workers.
      const route = "/.well-known/oauth-authorization-server";
      for (let i = 0; i < 40; i++) expect((await fetch(`http://127.0.0.1:${port}${route}`, { headers: { connection: "close" } })).status).toBe(200);
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const count = text.split("\n").find((l) => l.startsWith("http_request_duration_seconds_count{") && l.includes(`route="${route}"`) && l.includes('status_code="200"'));
      // Each worker saw only some of the 40; the sum is all of them.
      expect(Number(count?.split(" ").at(-1))).toBe(40);
      const perWorker = broker.out.stdout.split("\n").filter((l) => l.includes(`"route":"${route}"`));
      const pidsServing = new Set(perWorker.map((l) => (JSON.parse(l) as { pid: number }).pid));
      expect(pidsServing.size).toBe(2);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
    } finally {
      broker.kill();
      await db.drop();
    }
  }, 180_000);

  it("stops with exit code 1 when no worker can start", async () => {
    const db = await createTestDb();
    const port = await freePort();
    const taken = createServer().listen(port, "127.0.0.1");
    const broker = startWorkers(port, (db as { url?: string }).url!);
    try {
      expect(await broker.exited).toBe(1);
      expect(broker.out.stderr).toContain(`link-broker: PORT: 127.0.0.1:${port} is already in use by another process; stop it or set PORT to a free port`);
      expect(broker.out.stderr).not.toContain("starting another");
    } finally {
      broker.kill();
      taken.close();
      await db.drop();
    }
  }, 120_000);
});
