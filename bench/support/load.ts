// Load generation and server CPU accounting for the HTTP benchmarks.
//
// wrk (C; Debian package `wrk`) is used when it is on the PATH, autocannon otherwise. On a 2-core
// machine the load generator shares the cores with the server it measures: autocannon, being
// JavaScript, spends about as much CPU per request as a lean server does, which squeezes every
// ratio toward 1. wrk spends a fraction of that, so more of the machine goes to the server.
// Either way each figure comes with the server's own CPU time per request, read from /proc,
// which does not depend on how busy the load generator kept the machine.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  requests: number;
}

export interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  seconds: number;
  connections: number;
}

const require = createRequire(new URL("../../apps/broker/package.json", import.meta.url));

/** wrk when the machine has it (BENCH_LOAD=autocannon forces autocannon). */
export const loadGenerator: "wrk" | "autocannon" = process.env.BENCH_LOAD !== "autocannon" && spawnSync("wrk", ["-v"]).error === undefined ? "wrk" : "autocannon";

export function postLoad(o: LoadOptions): Promise<LoadResult> {
  return loadGenerator === "wrk" ? wrk(o) : autocannon(o);
}

/** Lua for wrk: a POST with a fixed body and headers (JSON strings are valid Lua strings here). */
function wrkScript(o: LoadOptions): string {
  const lines = ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(o.body)}`];
  for (const [k, v] of Object.entries(o.headers)) lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  return `${lines.join("\n")}\n`;
}

function wrk(o: LoadOptions): Promise<LoadResult> {
  return wrkScripted({ url: o.url, script: wrkScript(o), seconds: o.seconds, connections: o.connections });
}

/** wrk with a Lua script of its own (e.g. one that takes each request's token from the last answer). */
export function wrkScripted(o: { url: string; script: string; seconds: number; connections: number }): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "lb-bench-"));
  const script = join(dir, "post.lua");
  writeFileSync(script, o.script);
  return new Promise((resolve, reject) => {
    const p = spawn("wrk", ["-t1", `-c${o.connections}`, `-d${o.seconds}s`, "--latency", "-s", script, o.url], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (c: Buffer) => (out += c));
    p.on("error", reject);
    p.on("exit", (code) => {
      rmSync(dir, { recursive: true, force: true });
      const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
      const rps = num(/Requests\/sec:\s+([\d.]+)/);
      if (code !== 0 || !Number.isFinite(rps)) return reject(new Error(`wrk failed (${code}): ${out}`));
      const pct = (p: string) => {
        const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)\\b`).exec(out);
        // Rounded to the microsecond wrk reports: 570us is 0.57 ms, not 0.5700000000000001.
        return m ? Math.round(Number(m[1]) * ({ us: 1, ms: 1000, s: 1_000_000 } as Record<string, number>)[m[2]!]!) / 1000 : Number.NaN;
      };
      const p50Ms = pct("50");
      const p99Ms = pct("99");
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      resolve({ rps, p50Ms, p99Ms, failures: errors + Number(non2xx?.[1] ?? 0), requests: num(/(\d+) requests in/) });
    });
  });
}

type Autocannon = (opts: Record<string, unknown>) => Promise<{ requests: { average: number; total: number }; non2xx: number; errors: number; latency: { p99: number } }>;

async function autocannon(o: LoadOptions): Promise<LoadResult> {
  const run = require("autocannon") as Autocannon;
  const r = await run({ url: o.url, method: "POST", headers: o.headers, body: o.body, connections: o.connections, duration: o.seconds });
  return { rps: r.requests.average, p50Ms: (r.latency as { p50?: number }).p50 ?? Number.NaN, p99Ms: r.latency.p99, failures: r.non2xx + r.errors, requests: r.requests.total };
}

/** A process and all its descendants (Linux /proc), each with its CPU time so far (user + system, ms). */
function processTree(rootPid: number): { pid: number; ms: number }[] {
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  const stats: { pid: number; ppid: number; ms: number }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command name (field 2) may hold spaces; the fields after its closing ")" do not.
      const raw = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
      stats.push({ pid: Number(name), ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * tick });
    } catch {
      // the process ended while we read
    }
  }
  const tree = new Set([rootPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of stats) {
      if (tree.has(s.pid) || !tree.has(s.ppid)) continue;
      tree.add(s.pid);
      grew = true;
    }
  }
  return stats.filter((s) => tree.has(s.pid));
}

/** CPU time (user + system, ms) used so far by a process and all its descendants. */
export function cpuMs(rootPid: number): number {
  return processTree(rootPid).reduce((a, s) => a + s.ms, 0);
}

/** A process and all its descendants: a supervisor and its workers. */
export function processGroupPids(rootPid: number): number[] {
  return processTree(rootPid).map((s) => s.pid);
}

/** Resident memory (MB) of these processes together (read from /proc, so cheap enough to sample often). */
export function rssMb(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // the process ended while we read
    }
  }
  return kb / 1024;
}
