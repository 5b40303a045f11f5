// The broker as deployed: built and deployed as the Dockerfile does (apps/broker/scripts/build.mjs
// OUT_DIR), started as its runtime stage starts it (`node dist/main.js` with the node options and
// the allocator's environment of that stage, read from the Dockerfile), default configuration and
// default LOG_LEVEL (its log written to a file, as a container runtime would take it), rate limits
// raised through BROKER_RATE_LIMITS only. Beside it, in the same run: oidc-provider configured
// alike (support/oauth-servers.ts) and a bare Fastify route. oauth.bench.ts gives the in-process
// figures of the same endpoints.
//   client_credentials and introspection    vs oidc-provider (ES256 JWT; opaque token in memory)
//   introspection of a customer's token     (its row, grant and consent; with the linking journeys)
//   POST /ledger/check                      vs a bare Fastify JSON route
//   refresh_token grant on Postgres         (each request uses the refresh token the last answer gave)
//   the linking flow over HTTP              /link → test IdP sign-in → callback → 2fa → consent → token
//   start to ready                          spawn to /readyz 200, nothing to migrate (and the first start, migrating)
//   one process per core, "(xN)"            client_credentials, introspection and /ledger/check again, the
//                                           broker with BROKER_WORKERS=auto against oidc-provider per core (its
//                                           store in Redis, REDIS_URL) and the bare route per core; on one core,
//                                           or with BENCH_PER_CORE=0, left out
// Each HTTP figure is the median of BENCH_ROUNDS (default 3) runs of BENCH_SECONDS (default 8) with
// wrk at 50 connections, with p50/p99 latency and the broker's peak RSS. Writes
// bench/results/deployed.json and bench/results/deployed.svg (README shows the chart).
// For profiling: BENCH_BROKER_NODE_ARGS adds node options to the broker (e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof") and BENCH_ONLY keeps the scenarios whose name contains it (e.g.
// "refresh"; the linking journeys run only for the full set, "refresh", "customer token" or
// "linking", which runs nothing else); BENCH_BROKER_DIR runs an existing deployment (a build.mjs OUT_DIR, e.g. of another
// commit, to compare two builds in one sitting) instead of building one; BENCH_BROKER_ENV (JSON)
// adds environment to the broker (e.g. {"LOG_LEVEL":"silent"} to price the default logging).
// Results are then printed but not written. BENCH_WARMUP (default 5) seconds of unrecorded load
// come first for each fixed-body scenario, and BENCH_FLOW_WARMUP (default 50) unrecorded linking
// journeys before the timed ones: a broker in service has run its linking code many times, and
// the first journeys after start-up run it unoptimised (about 8 ms more per journey measured cold).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startBankIdp } from "../apps/broker/test/support/bank-idp.ts";
import { startFakeGraph } from "../apps/broker/test/support/fake-graph.ts";
import { driveLinkFlow, PLAIN_VERIFIER } from "../apps/broker/test/support/link-flow.ts";
import type { LinkingEnv } from "../apps/broker/test/support/linking-env.ts";
import { freePort } from "../apps/broker/test/support/ports.ts";
import { cpuMs, postLoad, processGroupPids, rssMb, wrkScripted, type LoadResult } from "./support/load.ts";
import { dockerfileRuntime } from "./support/dockerfile-runtime.ts";
import { createScratchDatabase } from "./support/scratch-db.ts";
import { reportNodeArgs, stallWatch } from "./support/stall-watch.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const warmup = Number(process.env.BENCH_WARMUP ?? 5);
const baseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const children: ChildProcess[] = [];
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const form = { "content-type": "application/x-www-form-urlencoded" };
/** The peak RSS of `pid` and its workers together while `run` runs, sampled every 100 ms (0: none). */
async function withPeakRss<T>(pid: number, run: () => Promise<T>): Promise<[T, number]> {
  const pids = pid ? processGroupPids(pid) : [];
  let peak = rssMb(pids);
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pids))), 100);
  try {
    return [await run(), Math.max(peak, rssMb(pids))];
  } finally {
    clearInterval(timer);
  }
}

/** How long the kept broker is left idle before its settled RSS is read. */
const IDLE_SETTLE_MS = 30_000;

async function waitReady(url: string, child: ChildProcess, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return;
    if (Date.now() > end) throw new Error(`${url} not ready`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  const startedLoad = load();
  process.stdout.write(`load average at start: ${startedLoad}\n`);
  const prebuilt = process.env.BENCH_BROKER_DIR;
  const deployDir = prebuilt ?? mkdtempSync(join(tmpdir(), "lb-deployed-"));
  if (!prebuilt) execFileSync(process.execPath, [join(root, "apps/broker/scripts/build.mjs"), deployDir], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });

  const scratch = await createScratchDatabase(baseUrl);
  const dbUrl = new URL(scratch.url);
  const graph = await startFakeGraph();
  const port = await freePort();
  const brokerUrl = `http://127.0.0.1:${port}`;
  const idp = await startBankIdp({ redirectUri: `${brokerUrl}/link/callback` });
  const messengerRedirect = "http://127.0.0.1:9/messenger_platform/account_linking";
  const registrationToken = randomBytes(32).toString("base64url");
  const high = "999999999/10s";
  const runtime = dockerfileRuntime(join(root, "Dockerfile"));
  const env = {
    PATH: process.env.PATH!,
    ...runtime.env,
    PORT: String(port),
    PUBLIC_URL: brokerUrl,
    DATABASE_URL: dbUrl.href,
    BROKER_MASTER_KEY: randomBytes(32).toString("base64"),
    BROKER_REGISTRATION_TOKEN: registrationToken,
    // The only tuning: limits above the load (configuration, as an operator would set them).
    BROKER_RATE_LIMITS: JSON.stringify(Object.fromEntries(["token", "introspect", "par", "revoke", "link"].map((e) => [e, { per_ip: high, per_client: high }]))),
    // The test bank IdP and Graph stand-ins are on loopback.
    MESSENGER_GRAPH_URL: graph.url,
    MESSENGER_REDIRECT_ALLOWLIST: messengerRedirect,
    BROKER_OUTBOUND_ALLOWLIST: "127.0.0.0/8,::1",
    // Production's default: NODE_ENV=production turns /docs off, but it also refuses these http:// URLs.
    BROKER_DOCS: "false",
    ...(JSON.parse(process.env.BENCH_BROKER_ENV ?? "{}") as Record<string, string>),
  };
  const only = process.env.BENCH_ONLY;
  const logDir = mkdtempSync(join(tmpdir(), "lb-deployed-log-"));
  const logFile = join(logDir, "broker.log");
  /** Starts the deployment with `env` and `extra` over it (another port, say), logging to `log`. */
  const startBroker = async (url = brokerUrl, extra: Record<string, string> = {}, log = logFile): Promise<{ child: ChildProcess; ms: number }> => {
    const fd = openSync(log, "a");
    const t0 = performance.now();
    const nodeArgs = [...runtime.nodeArgs, ...reportNodeArgs(logDir), ...(process.env.BENCH_BROKER_NODE_ARGS ?? "").split(" ").filter(Boolean)];
    const child = spawn(process.execPath, [...nodeArgs, "dist/main.js"], { cwd: deployDir, env: { ...env, ...extra }, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    children.push(child);
    await waitReady(url, child);
    return { child, ms: performance.now() - t0 };
  };
  const stop = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });

  let failed = false;
  try {
    // Start to ready: the first start migrates an empty database; later ones have nothing to do.
    const first = await startBroker();
    await stop(first.child);
    // Idle RSS 3 s after each of these starts: one start's figure moves by several MB.
    const starts: number[] = [];
    const idles: number[] = [];
    let broker = first.child;
    for (let i = 0; i < 3; i++) {
      const s = await startBroker();
      starts.push(s.ms);
      broker = s.child;
      await new Promise((r) => setTimeout(r, 3000));
      idles.push(rssMb(processGroupPids(broker.pid!)));
      if (i < 2) await stop(s.child);
    }
    const idleRss = median(idles);
    // Settled: the last broker, left idle for IDLE_SETTLE_MS after it was ready. V8 gives back
    // what start-up used only at its first collections after it (about 20 s in, at the idle
    // broker's own allocation rate), so 3 s after ready still holds start-up's heap.
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS - 3000));
    const settledRss = rssMb(processGroupPids(broker.pid!));
    process.stdout.write(`start to ready: first (migrating) ${first.ms.toFixed(0)} ms, then median ${median(starts).toFixed(0)} ms of ${starts.map((s) => s.toFixed(0)).join(", ")}; idle RSS 3 s after ready: median ${idleRss.toFixed(0)} MB of ${idles.map((m) => m.toFixed(0)).join(", ")}; settled (${IDLE_SETTLE_MS / 1000} s idle) ${settledRss.toFixed(0)} MB\n`);

    const peer = async (args: string[]) => {
      const p = await freePort();
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench/support/oauth-servers.ts"), args[0]!, String(p), ...args.slice(1)], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
        child.once("exit", (code) => reject(new Error(`${args[0]} exited with ${code}`)));
      });
      return `http://127.0.0.1:${p}`;
    };
    const op = await peer(["oidc"]);
    const floor = await peer(["floor"]);

    // A request the broker never answers stops the run with what the broker was doing.
    const stalls = stallWatch({ pid: () => broker.pid!, url: brokerUrl, databaseUrl: dbUrl.href, dir: logDir });
    const reg = await stalls.watch("registration", () => fetch(`${brokerUrl}/connect/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${registrationToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "Bench Bank",
        grant_types: ["authorization_code", "refresh_token", "client_credentials"],
        scope: "balance:read transactions:read alerts:fraud support:chat ledger:check",
        require_pushed_authorization_requests: false,
        messenger: { page_id: graph.pageId, page_access_token: graph.pageAccessToken, app_secret: randomBytes(16).toString("hex"), verify_token: randomBytes(8).toString("hex") },
        bank_idp: { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret },
      }),
    }));
    if (reg.status !== 201) throw new Error(`registration answered ${reg.status}: ${await reg.text()}`);
    const bank = (await reg.json()) as { client_id: string; client_secret: string };
    const auth = { ...form, authorization: basic(bank.client_id, bank.client_secret) };
    const ccBody = "grant_type=client_credentials&scope=ledger%3Acheck";
    const token = (await stalls.watch("the first client_credentials token", async () => (await fetch(`${brokerUrl}/oauth/token`, { method: "POST", headers: auth, body: ccBody })).json()) as { access_token: string }).access_token;
    const jwtAuth = { ...form, authorization: basic("bench-jwt", "bench-secret-bench-secret-bench-secret-1") };
    const opaqueAuth = { ...form, authorization: basic("bench-opaque", "bench-secret-bench-secret-bench-secret-2") };
    /** A client_credentials access token from the token endpoint `url`. */
    const tokenFrom = async (url: string, headers: Record<string, string>) => ((await (await fetch(url, { method: "POST", headers, body: ccBody })).json()) as { access_token: string }).access_token;
    const opToken = await tokenFrom(`${op}/token`, opaqueAuth);
    // One process per core, as the production section of README runs the broker on a host
    // (BROKER_WORKERS=auto), beside peers run alike: oidc-provider per core, its store in Redis for
    // introspection (its processes must share the opaque tokens), and the bare route per core. The
    // same database and client; its own token, as each broker's address is its issuer here.
    // BENCH_PER_CORE=0 leaves it out; on one core there is nothing to add.
    const cores = availableParallelism();
    const perCoreTag = `(x${cores})`;
    const perCoreNames = ["broker client_credentials", "oidc-provider client_credentials", "broker introspection", "oidc-provider introspection", "broker /ledger/check", "bare Fastify route"].map((n) => `${n} ${perCoreTag}`);
    const [ccPerCore, opCcPerCore, introPerCore, opIntroPerCore, checkPerCore, floorPerCore] = perCoreNames as [string, string, string, string, string, string];
    const startPerCore = async () => {
      if (cores < 2 || process.env.BENCH_PER_CORE === "0" || (only && !perCoreNames.some((n) => n.includes(only)))) return undefined;
      const p = await freePort();
      const url = `http://127.0.0.1:${p}`;
      const { child } = await startBroker(url, { PORT: String(p), PUBLIC_URL: url, BROKER_WORKERS: "auto" }, join(logDir, "broker-per-core.log"));
      const token = await tokenFrom(`${url}/oauth/token`, auth);
      const [op, opRedis, floor] = await Promise.all([peer(["oidc", String(cores)]), peer(["oidc-redis", String(cores)]), peer(["floor", String(cores)])]);
      const opRedisToken = await tokenFrom(`${opRedis}/token`, opaqueAuth);
      return { pid: child.pid!, url, token, op, opRedis, floor, opRedisToken };
    };

    // The linking flow: first one journey at a time (the broker's own time per journey, from its
    // access log), then several at once (journeys per second). Each journey is a new customer.
    const linkEnv = { brokerUrl, graph, idp, clock: { now: () => new Date() }, messengerRedirect, totpSecrets: new Map() } as unknown as LinkingEnv;
    let customers = 0;
    let linkedAccess = ""; // a customer's access token, from the first journey
    const journey = async (): Promise<string> => {
      const username = `customer-${++customers}`;
      idp.addAccount(username, "pw", `sub-${username}`);
      const r = await stalls.watch(`the linking journey of ${username}`, () => driveLinkFlow(linkEnv, { clientId: bank.client_id, username }));
      if (!r.authorizationCode) throw new Error(`no authorization code: ${r.last.status}`);
      const res = await stalls.watch(`the code exchange of ${username}`, () => fetch(`${brokerUrl}/oauth/token`, { method: "POST", headers: auth, body: `grant_type=authorization_code&code=${r.authorizationCode}&code_verifier=${PLAIN_VERIFIER}` }));
      if (res.status !== 200) throw new Error(`code exchange answered ${res.status}`);
      const tokens = (await res.json()) as { access_token: string; refresh_token: string };
      linkedAccess ||= tokens.access_token;
      return tokens.refresh_token;
    };
    // Per journey, from the access log: the total time of its requests, and of that the time the
    // broker waited on the bank's IdP and Graph (`upstream_ms`), which is theirs; the rest is the
    // broker's own. Per step too, and the broker's CPU time over the journeys.
    const flows: { total: number; upstream: number }[] = [];
    const steps = new Map<string, number[]>();
    const journeys = !only || "broker refresh_token linking, broker introspection, customer token".includes(only);
    const flowWarmup = journeys ? Number(process.env.BENCH_FLOW_WARMUP ?? 50) : 0;
    for (let i = 0; i < flowWarmup; i++) await journey();
    const flowCpuBefore = cpuMs(broker.pid!);
    for (let i = 0; i < (journeys ? 30 : 0); i++) {
      const from = statSync(logFile).size;
      await journey();
      await new Promise((r) => setTimeout(r, 50)); // the asynchronous log writer
      const lines = readFileSync(logFile, "utf8").slice(from).split("\n");
      const flow = { total: 0, upstream: 0 };
      for (const l of lines) {
        if (!l.includes('"msg":"request"') || !/"route":"\/(link|oauth\/token)/.test(l)) continue;
        const { method, route, ms, upstream_ms = 0 } = JSON.parse(l) as { method: string; route: string; ms: number; upstream_ms?: number };
        flow.total += ms;
        flow.upstream += upstream_ms;
        const step = `${method} ${route}`;
        steps.set(step, [...(steps.get(step) ?? []), ms - upstream_ms]);
      }
      flows.push(flow);
    }
    const flowCpuMs = journeys ? (cpuMs(broker.pid!) - flowCpuBefore) / 30 : 0;
    const flowTotal = median(flows.map((f) => f.total));
    const flowUpstream = median(flows.map((f) => f.upstream));
    const flowOwn = median(flows.map((f) => f.total - f.upstream));
    if (journeys) {
      process.stdout.write(`linking flow, 30 one at a time after ${flowWarmup} unrecorded, median per flow: total ${flowTotal.toFixed(1)} ms, waiting on the bank IdP and Graph ${flowUpstream.toFixed(1)} ms, broker's own ${flowOwn.toFixed(1)} ms; broker CPU ${flowCpuMs.toFixed(1)} ms per flow\n`);
      process.stdout.write(`  broker's own time per step (median): ${[...steps].map(([step, ms]) => `${step} ${median(ms).toFixed(1)}`).join(", ")}\n`);
    }
    const concurrentFlows = journeys ? 64 : 0;
    const [flowWall, flowPeak] = await withPeakRss(broker.pid!, async () => {
      const t0 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next++ < concurrentFlows) await journey();
      }));
      return performance.now() - t0;
    });
    const flowsPerSecond = (concurrentFlows / flowWall) * 1000;
    if (journeys) process.stdout.write(`linking flow: ${flowsPerSecond.toFixed(1)} flows/s with 8 at once; peak RSS ${flowPeak.toFixed(0)} MB\n`);

    // Refresh: each wrk connection takes a token from a queue and puts back the one it gets.
    const refreshScript = async () => {
      const tokens: string[] = [];
      for (let i = 0; i < connections + 10; i += 8) tokens.push(...(await Promise.all(Array.from({ length: 8 }, journey))));
      return `local tokens = {${tokens.map((t) => JSON.stringify(t)).join(",")}}
local headers = { ["content-type"] = "application/x-www-form-urlencoded", ["authorization"] = ${JSON.stringify(auth.authorization)} }
request = function()
  local t = table.remove(tokens, 1) or "exhausted"
  return wrk.format("POST", "/oauth/token", headers, "grant_type=refresh_token&refresh_token=" .. t)
end
response = function(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then table.insert(tokens, t) end
end
`;
    };

    type Run = LoadResult & { peakRssMb: number; cpuUsPerRequest: number };
    /** The CPU time per request of broker `pid` (its threads and workers; 0: a peer, not read) while `load` runs: the load on this shared machine moves it less than the throughput. */
    const withCpu = async (pid: number, load: () => Promise<LoadResult>): Promise<LoadResult & { cpuUsPerRequest: number }> => {
      if (!pid) return { ...(await load()), cpuUsPerRequest: 0 };
      const before = cpuMs(pid);
      const r = await load();
      return { ...r, cpuUsPerRequest: ((cpuMs(pid) - before) * 1000) / Math.max(1, r.requests) };
    };
    const runs: Record<string, Run[]> = {};
    const record = (name: string, run: Run) => {
      runs[name] = [...(runs[name] ?? []), run];
    };
    const post = (name: string, pid: number | undefined, url: string, headers: Record<string, string>, body: string) => async () => {
      const [r, peak] = await withPeakRss(pid ?? 0, () => withCpu(pid ?? 0, () => postLoad({ url, headers, body, seconds, connections })));
      record(name, { ...r, peakRssMb: pid ? peak : 0 });
    };
    const json = { "content-type": "application/json" };
    const perCore = await startPerCore();
    const checkBody = JSON.stringify({ client_id: bank.client_id, subject: "sub-customer-1", scope: "balance:read" });
    type Scenario = [name: string, run: () => Promise<void>, warm?: () => Promise<unknown>];
    // Each fixed-body scenario first runs once for BENCH_WARMUP seconds, unrecorded: a process's
    // first seconds run code the JIT has not optimised yet (measured: 266 against 176 µs of CPU
    // per introspection), which is start-up, not throughput. oauth.bench.ts does the same.
    const fixed = (name: string, pid: number | undefined, url: string, headers: Record<string, string>, body: string): Scenario => [name, post(name, pid, url, headers, body), () => postLoad({ url, headers, body, seconds: warmup, connections })];
    const plan: Scenario[] = [
      fixed("broker client_credentials", broker.pid, `${brokerUrl}/oauth/token`, auth, ccBody),
      fixed("oidc-provider client_credentials", undefined, `${op}/token`, jwtAuth, ccBody),
      fixed("broker introspection", broker.pid, `${brokerUrl}/oauth/introspect`, auth, `token=${token}`),
      fixed("oidc-provider introspection", undefined, `${op}/token/introspection`, opaqueAuth, `token=${opToken}`),
      // A customer's token: live only through its row, its grant and its consent, read in one statement.
      ...(linkedAccess ? [fixed("broker introspection, customer token", broker.pid, `${brokerUrl}/oauth/introspect`, auth, `token=${linkedAccess}`)] : []),
      fixed("broker /ledger/check", broker.pid, `${brokerUrl}/ledger/check`, { ...json, authorization: `Bearer ${token}` }, checkBody),
      fixed("bare Fastify route", undefined, `${floor}/ledger/check`, json, checkBody),
      ...(perCore
        ? [
            fixed(ccPerCore, perCore.pid, `${perCore.url}/oauth/token`, auth, ccBody),
            fixed(opCcPerCore, undefined, `${perCore.op}/token`, jwtAuth, ccBody),
            fixed(introPerCore, perCore.pid, `${perCore.url}/oauth/introspect`, auth, `token=${perCore.token}`),
            fixed(opIntroPerCore, undefined, `${perCore.opRedis}/token/introspection`, opaqueAuth, `token=${perCore.opRedisToken}`),
            fixed(checkPerCore, perCore.pid, `${perCore.url}/ledger/check`, { ...json, authorization: `Bearer ${perCore.token}` }, checkBody),
            fixed(floorPerCore, undefined, `${perCore.floor}/ledger/check`, json, checkBody),
          ]
        : []),
      [
        "broker refresh_token",
        async () => {
          const script = await refreshScript();
          const [r, peak] = await withPeakRss(broker.pid!, () => withCpu(broker.pid!, () => wrkScripted({ url: brokerUrl, script, seconds, connections })));
          record("broker refresh_token", { ...r, peakRssMb: peak });
        },
      ],
    ];
    const chosen = plan.filter(([name]) => !only || name.includes(only));
    if (warmup > 0) for (const [, , warm] of chosen) await warm?.();
    for (let round = 1; round <= (chosen.length ? rounds : 0); round++) {
      process.stdout.write(`-- round ${round}/${rounds} (load ${load()})\n`);
      for (const [name, run] of chosen) {
        await run();
        const r = runs[name]!.at(-1)!;
        process.stdout.write(`${name.padEnd(36)} ${String(Math.round(r.rps)).padStart(7)}/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  failures ${r.failures}${r.peakRssMb ? `  peak RSS ${r.peakRssMb.toFixed(0)} MB  broker CPU ${r.cpuUsPerRequest.toFixed(0)} µs/req` : ""}\n`);
      }
    }
    if (only) return;
    // A run with other settings is not the deployment the committed results describe.
    if (process.env.BENCH_BROKER_ENV) {
      process.stdout.write("BENCH_BROKER_ENV is set: results printed, not written\n");
      return;
    }
    const summary = Object.fromEntries(
      Object.entries(runs).map(([name, rs]) => [name, { rps: Math.round(median(rs.map((r) => r.rps))), p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)), failures: rs.reduce((a, r) => a + r.failures, 0), peakRssMb: Math.round(Math.max(...rs.map((r) => r.peakRssMb))), cpuUsPerRequest: Math.round(median(rs.map((r) => r.cpuUsPerRequest))), runs: rs.map((r) => Math.round(r.rps)) }]),
    );
    const ratio = (a: string, b: string) => Number((summary[a]!.rps / summary[b]!.rps).toFixed(2));
    const results = {
      date: new Date().toISOString(),
      machine: { cores: availableParallelism(), loadAverageAtStart: startedLoad, loadAverageAtEnd: load() },
      method: { load: "wrk -t1", connections, seconds, rounds, warmupSeconds: warmup, warmupJourneys: flowWarmup, figure: "median of rounds", logLevel: "default (info), to a file", rateLimits: "raised through BROKER_RATE_LIMITS" },
      startToReadyMs: { firstStartMigrating: Math.round(first.ms), median: Math.round(median(starts)), starts: starts.map(Math.round) },
      rssMb: { idle: Math.round(idleRss), idleStarts: idles.map(Math.round), idleSettled: Math.round(settledRss), idleSettledAfterMs: IDLE_SETTLE_MS, peakUnderLoad: Math.round(Math.max(flowPeak, ...Object.entries(summary).filter(([name]) => !perCoreNames.includes(name)).map(([, s]) => s.peakRssMb))) },
      linkingFlow: {
        totalMsPerFlowMedian: Number(flowTotal.toFixed(1)),
        upstreamMsPerFlowMedian: Number(flowUpstream.toFixed(1)),
        brokerOwnMsPerFlowMedian: Number(flowOwn.toFixed(1)),
        brokerCpuMsPerFlow: Number(flowCpuMs.toFixed(1)),
        brokerOwnMsPerStepMedian: Object.fromEntries([...steps].map(([step, ms]) => [step, Number(median(ms).toFixed(1))])),
        flowsPerSecond: Number(flowsPerSecond.toFixed(1)),
        concurrency: 8,
      },
      scenarios: summary,
      ratios: {
        clientCredentialsVsOidcProvider: ratio("broker client_credentials", "oidc-provider client_credentials"),
        introspectionVsOidcProvider: ratio("broker introspection", "oidc-provider introspection"),
        ledgerCheckVsBareFastify: ratio("broker /ledger/check", "bare Fastify route"),
      },
      // Both sides one process per core; the peak RSS is the supervisor's and its workers' together.
      ...(perCore
        ? {
            perCore: {
              processes: cores,
              peakRssMbUnderLoad: Math.max(...[ccPerCore, introPerCore, checkPerCore].map((n) => summary[n]!.peakRssMb)),
              ratios: {
                clientCredentialsVsOidcProvider: ratio(ccPerCore, opCcPerCore),
                introspectionVsOidcProvider: ratio(introPerCore, opIntroPerCore),
                ledgerCheckVsBareFastify: ratio(checkPerCore, floorPerCore),
              },
            },
          }
        : {}),
    };
    const out = join(root, "bench/results");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "deployed.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(out, "deployed.svg"), chart(results.scenarios, results.machine.loadAverageAtStart, results.date, perCore ? perCoreTag : undefined));
    process.stdout.write(`\n${JSON.stringify({ startToReadyMs: results.startToReadyMs, rssMb: results.rssMb, linkingFlow: results.linkingFlow, ratios: results.ratios, perCore: results.perCore })}\nwrote bench/results/deployed.json and deployed.svg\n`);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 1000));
    await Promise.all([graph.close(), idp.close()]);
    await scratch.drop();
    // The deployment (about 160 MB; not one given in BENCH_BROKER_DIR) and the broker's log.
    if (!prebuilt) rmSync(deployDir, { recursive: true, force: true });
    // Kept when the run failed: the broker's log, and a stall's diagnosis and report.
    if (failed) process.stderr.write(`the broker's log and any stall diagnosis: ${logDir}\n`);
    else rmSync(logDir, { recursive: true, force: true });
  }
}

/** Throughput per scenario, the broker as deployed beside its peer, as horizontal bars; `perCore`: the tag of the one-process-per-core scenarios, when measured. */
function chart(s: Record<string, { rps: number }>, loadAverage: string, date: string, perCore?: string): string {
  const groups: [string, string, string | undefined][] = [
    ["client_credentials", "broker client_credentials", "oidc-provider client_credentials"],
    ["introspection", "broker introspection", "oidc-provider introspection"],
    ["introspection, customer token", "broker introspection, customer token", undefined],
    ["/ledger/check", "broker /ledger/check", "bare Fastify route"],
    ["refresh_token", "broker refresh_token", undefined],
  ];
  // The same, one process per core on both sides (scenarios named with its tag), when the run measured it.
  if (perCore) {
    for (const [label, ours, theirs] of groups.slice(0, 4).filter(([, , theirs]) => theirs)) groups.push([`${label} ${perCore}`, `${ours} ${perCore}`, `${theirs} ${perCore}`]);
  }
  const max = Math.max(...Object.values(s).map((x) => x.rps));
  const width = 800;
  const left = 200;
  const barMax = width - left - 180;
  let y = perCore ? 58 : 40;
  let body = perCore ? `<text x="10" y="40">${perCore}: one process per core on both sides (the broker with BROKER_WORKERS=auto; oidc-provider's store in Redis)</text>` : "";
  for (const [label, ours, theirs] of groups) {
    body += `<text x="10" y="${y + 14}" font-weight="bold">${label}</text>`;
    for (const [name, colour] of [[ours, "#2563eb"], [theirs, "#9ca3af"]] as const) {
      if (!name || !s[name]) continue;
      const w = Math.max(1, Math.round((s[name]!.rps / max) * barMax));
      body += `<rect x="${left}" y="${y}" width="${w}" height="18" fill="${colour}"/><text x="${left + w + 6}" y="${y + 14}">${s[name]!.rps.toLocaleString("en")}/s ${name.startsWith("broker") ? "broker" : name}</text>`;
      y += 22;
    }
    y += 12;
  }
  const title = "Throughput per scenario: the broker as deployed against its peers";
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${title}" width="${width}" height="${y + 10}" font-family="sans-serif" font-size="12"><title>${title}</title><rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="14">The broker as deployed (blue) against its peers (grey), req/s, wrk 50 connections, median; ${date.slice(0, 10)}, load ${loadAverage}</text>${body}</svg>\n`;
}

await main();
