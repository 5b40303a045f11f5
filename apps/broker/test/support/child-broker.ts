import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TEST_MASTER_KEY, TEST_OUTBOUND_ALLOWLIST, TEST_REGISTRATION_TOKEN } from "./app.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
// Resolved here, so the child can run from an empty working directory.
const TSX = import.meta.resolve("tsx");

/** The broker as its own process (`src/main.ts`), which a test may kill and start again. */
export interface ChildBroker {
  readonly url: string;
  readonly process: ChildProcess;
  /** Its output so far (stdout and stderr). */
  output(): string;
  /** Worker pids when BROKER_WORKERS > 1. */
  workers(): number[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the broker on `port` and waits until /readyz answers 200. */
export async function startChildBroker(port: number, env: Record<string, string>): Promise<ChildBroker> {
  const cwd = mkdtempSync(join(tmpdir(), "lb-child-"));
  const child = spawn(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: {
      PATH: process.env.PATH!,
      INIT_CWD: cwd,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      BROKER_MASTER_KEY: TEST_MASTER_KEY,
      BROKER_REGISTRATION_TOKEN: TEST_REGISTRATION_TOKEN,
      // The bank IdP and Graph stand-ins of the tests listen on loopback.
      BROKER_OUTBOUND_ALLOWLIST: TEST_OUTBOUND_ALLOWLIST,
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const workers = () => {
    try {
      return execFileSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  // Generous: on a busy 2-core machine a group of workers takes a minute or more to start.
  // A broker that exits while starting ends the wait at once, with what it printed.
  const ready = await until(`the broker on ${url}`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return "exited";
    return (await fetch(`${url}/readyz`)).status === 200 ? "ready" : undefined;
  }, 150_000);
  if (ready === "exited") throw new Error(`the broker exited: ${out}`);
  return {
    url,
    process: child,
    output: () => out,
    workers,
    async kill(signal = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const pids = workers();
      child.kill(signal);
      if (signal === "SIGKILL") for (const pid of pids) process.kill(pid, "SIGKILL");
      await exited;
    },
  };
}
