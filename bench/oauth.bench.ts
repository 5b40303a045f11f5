// client_credentials tokens/s and introspections/s: the broker on Postgres against oidc-provider
// (ES256 JWT access tokens) on the same machine, in the same run, with an empty Fastify route as
// the floor. Each server runs as a child process; the load comes from wrk when it is installed,
// else autocannon (support/load.ts says why; BENCH_LOAD=autocannon forces it), and each figure
// comes with the server's CPU time per request (all its processes).
// Both servers are measured as one process, and again as one process per core (BENCH_PROCESSES,
// default the core count): the broker as BROKER_WORKERS runs it; oidc-provider with its in-memory
// store for client_credentials (JWT access tokens need no store), and with its store in Redis for
// introspection, as processes must share the opaque tokens they introspect (REDIS_URL, default
// redis://127.0.0.1:6379). DATABASE_URL names the Postgres server (default
// postgres://postgres@127.0.0.1:5432/postgres); a temporary database is made and dropped.
// BENCH_SECONDS (default 10) sets each measurement's length, BENCH_ROUNDS (default 2) how many
// alternating rounds run; the ratios are over the sums of the rounds. Before the first round each
// measurement is run once for BENCH_WARMUP seconds (default 5): a server's first seconds run on
// code the JIT has not optimised yet, which measures start-up, not throughput.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { freePort } from "../apps/broker/test/support/ports.ts";
import { migrate, createDb } from "../packages/db/src/index.ts";
import { cpuMs, loadGenerator, postLoad } from "./support/load.ts";
import { createScratchDatabase } from "./support/scratch-db.ts";


const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmup = Number(process.env.BENCH_WARMUP ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const perCore = Number(process.env.BENCH_PROCESSES ?? availableParallelism());
const masterKey = randomBytes(32).toString("base64");
const baseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const registrationToken = randomBytes(32).toString("base64url");
const servers = fileURLToPath(new URL("./support/oauth-servers.ts", import.meta.url));
const children: ChildProcess[] = [];

/** Starts a server of support/oauth-servers.ts; resolves to its pid once it is ready. */
async function start(args: string[], env: Record<string, string> = {}): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", servers, ...args], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, BENCH_MASTER_KEY: masterKey, ...env } });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  return child.pid!;
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const form = { "content-type": "application/x-www-form-urlencoded" };

interface Figure {
  rps: number;
  /** The server's CPU time per request, in microseconds. */
  cpuUs: number;
}

async function measure(title: string, server: { url: string; pid: number }, headers: Record<string, string>, body: string): Promise<Figure> {
  const check = await fetch(server.url, { method: "POST", headers, body });
  const sample = await check.text();
  if (check.status !== 200) throw new Error(`${title}: ${check.status} ${sample}`);
  // An inactive answer is a 200 too; measure the path that finds the token live.
  if (sample.includes('"active":false')) throw new Error(`${title}: the token is not active`);
  const opts = { url: server.url, headers, body, connections };
  await postLoad({ ...opts, seconds: 2 }); // the server that ran before has left the machine's caches cold
  const cpu0 = cpuMs(server.pid);
  const r = await postLoad({ ...opts, seconds });
  const cpuUs = ((cpuMs(server.pid) - cpu0) * 1000) / r.requests;
  const rps = Math.round(r.rps);
  process.stdout.write(`${title.padEnd(50)} ${String(rps).padStart(7)} req/s  ${cpuUs.toFixed(1).padStart(6)} µs CPU/req  p99 ${r.p99Ms} ms  failures ${r.failures}\n`);
  if (r.failures > 0) process.stdout.write(`  warning: ${title} had failures; its figure is not valid\n`);
  return { rps, cpuUs };
}

async function main() {
  const scratch = await createScratchDatabase(baseUrl);
  const dbUrl = new URL(scratch.url);
  try {
    const db = await createDb({ url: dbUrl.href });
    await migrate(db);
    await db.close();

    const brokerPort = await freePort();
    const broker = `http://127.0.0.1:${brokerPort}`;
    const brokerPid = await start(["broker", String(brokerPort), dbUrl.href], { BENCH_REGISTRATION_TOKEN: registrationToken });
    const reg = await fetch(`${broker}/connect/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${registrationToken}`, "content-type": "application/json" },
      body: JSON.stringify({ client_name: "bench", grant_types: ["client_credentials"], scope: "ledger:check" }),
    });
    const client = (await reg.json()) as { client_id: string; client_secret: string };
    const auth = { ...form, authorization: basic(client.client_id, client.client_secret) };
    const token = ((await (await fetch(`${broker}/oauth/token`, { method: "POST", headers: auth, body: "grant_type=client_credentials" })).json()) as { access_token: string }).access_token;
    // The same database and keys, so the same client and token work on every broker process.
    const brokersPort = await freePort();
    const brokers = `http://127.0.0.1:${brokersPort}`;
    const brokersPid = await start(["broker", String(brokersPort), dbUrl.href, String(perCore)], { BENCH_REGISTRATION_TOKEN: registrationToken });
    // Its own token: the issuer is part of each broker's address here.
    const tokens = ((await (await fetch(`${brokers}/oauth/token`, { method: "POST", headers: auth, body: "grant_type=client_credentials" })).json()) as { access_token: string }).access_token;

    const oidcPort = await freePort();
    const op = `http://127.0.0.1:${oidcPort}`;
    const opPid = await start(["oidc", String(oidcPort)]);
    const opsPort = await freePort();
    const ops = `http://127.0.0.1:${opsPort}`;
    const opsPid = await start(["oidc", String(opsPort), String(perCore)]);
    const opsRedisPort = await freePort();
    const opsRedis = `http://127.0.0.1:${opsRedisPort}`;
    const opsRedisPid = await start(["oidc-redis", String(opsRedisPort), String(perCore)]);
    const floorPort = await freePort();
    const floorPid = await start(["floor", String(floorPort)]);
    const jwtAuth = { ...form, authorization: basic("bench-jwt", "bench-secret-bench-secret-bench-secret-1") };
    const opaqueAuth = { ...form, authorization: basic("bench-opaque", "bench-secret-bench-secret-bench-secret-2") };
    const opToken = ((await (await fetch(`${op}/token`, { method: "POST", headers: opaqueAuth, body: "grant_type=client_credentials&scope=ledger%3Acheck" })).json()) as { access_token: string }).access_token;
    const introCheck = (await (await fetch(`${op}/token/introspection`, { method: "POST", headers: opaqueAuth, body: `token=${opToken}` })).json()) as { active: boolean };
    if (!introCheck.active) throw new Error("oidc-provider introspection answered inactive");
    const opsRedisToken = ((await (await fetch(`${opsRedis}/token`, { method: "POST", headers: opaqueAuth, body: "grant_type=client_credentials&scope=ledger%3Acheck" })).json()) as { access_token: string }).access_token;

    // Every server runs throughout; measurements alternate so that all see the same machine load.
    const ccBody = "grant_type=client_credentials&scope=ledger%3Acheck";
    type Pair = { broker: Figure[]; op: Figure[] };
    const pair = (): Pair => ({ broker: [], op: [] });
    const [cc, ccPerCore, intro, introPerCore] = [pair(), pair(), pair(), pair()];
    const floor: Figure[] = [];
    const at = (path: string, pid: number) => ({ url: path, pid });
    type Step = [title: string, figures: Figure[], server: { url: string; pid: number }, headers: Record<string, string>, body: string];
    const plan: Step[] = [
      ["broker client_credentials (ES256 JWT)", cc.broker, at(`${broker}/oauth/token`, brokerPid), auth, ccBody],
      ["oidc-provider client_credentials (ES256 JWT)", cc.op, at(`${op}/token`, opPid), jwtAuth, ccBody],
      [`  same, broker x${perCore} processes`, ccPerCore.broker, at(`${brokers}/oauth/token`, brokersPid), auth, ccBody],
      [`  same, oidc-provider x${perCore} processes`, ccPerCore.op, at(`${ops}/token`, opsPid), jwtAuth, ccBody],
      ["broker introspection (JWT, revocation checked)", intro.broker, at(`${broker}/oauth/introspect`, brokerPid), auth, `token=${token}`],
      ["oidc-provider introspection (opaque, in memory)", intro.op, at(`${op}/token/introspection`, opPid), opaqueAuth, `token=${opToken}`],
      ["  floor: an empty Fastify route, one process", floor, at(`http://127.0.0.1:${floorPort}/oauth/introspect`, floorPid), auth, `token=${token}`],
      [`  same, broker x${perCore} processes`, introPerCore.broker, at(`${brokers}/oauth/introspect`, brokersPid), auth, `token=${tokens}`],
      [`  same, oidc-provider x${perCore} processes (Redis)`, introPerCore.op, at(`${opsRedis}/token/introspection`, opsRedisPid), opaqueAuth, `token=${opsRedisToken}`],
    ];
    process.stdout.write(`load: ${loadGenerator}, ${connections} connections, ${seconds} s per figure after ${warmup} s of warm-up\n`);
    for (const [, , server, headers, body] of plan) await postLoad({ url: server.url, headers, body, connections, seconds: warmup });
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`-- round ${round}/${rounds}\n`);
      for (const [title, figures, server, headers, body] of plan) figures.push(await measure(title, server, headers, body));
    }
    const sum = (xs: Figure[], k: keyof Figure) => xs.reduce((a, b) => a + b[k], 0);
    const line = (name: string, r: Pair, target: number) =>
      `${name.padEnd(20)}broker ${Math.round(sum(r.broker, "rps") / rounds)}/s, oidc-provider ${Math.round(sum(r.op, "rps") / rounds)}/s, ratio ${(sum(r.broker, "rps") / sum(r.op, "rps")).toFixed(2)}x (target ${target}x)` +
      `; CPU per request ${(sum(r.broker, "cpuUs") / rounds).toFixed(1)} vs ${(sum(r.op, "cpuUs") / rounds).toFixed(1)} µs, ${(sum(r.op, "cpuUs") / sum(r.broker, "cpuUs")).toFixed(2)}x less\n`;
    process.stdout.write(`\none process each:\n${line("client_credentials:", cc, 3)}${line("introspection:", intro, 3)}`);
    process.stdout.write(`${"".padEnd(20)}one broker process reaches ${Math.round((100 * sum(intro.broker, "rps")) / sum(floor, "rps"))}% of an empty Fastify route (${Math.round(sum(floor, "rps") / rounds)}/s, ${(sum(floor, "cpuUs") / rounds).toFixed(1)} µs CPU/req)\n`);
    process.stdout.write(`${perCore} processes each:\n${line("client_credentials:", ccPerCore, 3)}${line("introspection:", introPerCore, 3)}`);
    process.stdout.write(`${"".padEnd(20)}against one oidc-provider process with its in-memory store: ${(sum(introPerCore.broker, "rps") / sum(intro.op, "rps")).toFixed(2)}x\n`);
  } finally {
    for (const c of children) c.kill();
    await new Promise((r) => setTimeout(r, 500));
    await scratch.drop();
  }
}

await main();
