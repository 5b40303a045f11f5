// A request to the broker that does not answer within BENCH_STALL_MS (default 30 s) is a stall,
// not a slow figure: the benchmark stops and records what the broker was doing, while it still is.
//   - each thread's scheduler state and kernel wait channel (/proc): "S" waiting in the event loop
//     or on a lock, "D" blocked on the disk, "R" running;
//   - whether /healthz still answers (it touches no database: if it does not, the event loop is
//     blocked, not merely waiting on Postgres);
//   - the broker's Postgres sessions (pg_stat_activity): an "idle in transaction" one is a
//     transaction the process opened and stopped driving;
//   - a Node.js diagnostic report (JavaScript stack, handles, libuv thread pool), written on
//     SIGUSR2 by a broker started with reportNodeArgs().
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "../../packages/db/node_modules/pg/lib/index.js";

const stallMs = Number(process.env.BENCH_STALL_MS ?? 30_000);
const STALLED = Symbol("stalled");

/** Node options that make SIGUSR2 write a diagnostic report into `dir` (nothing happens without the signal). */
export const reportNodeArgs = (dir: string) => ["--report-on-signal", "--report-signal=SIGUSR2", `--report-directory=${dir}`];

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "?";
  }
};

/** Each thread of `pid`: name, scheduler state, wait channel. */
function threads(pid: number): string[] {
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return ["(the process is gone)"];
  }
  return tids.map((tid) => {
    const stat = read(`/proc/${pid}/task/${tid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return `${tid} ${read(`/proc/${pid}/task/${tid}/comm`)} ${state} ${read(`/proc/${pid}/task/${tid}/wchan`)}`;
  });
}

export interface StallWatch {
  /** `run()`, or, past BENCH_STALL_MS, a diagnosis written to the broker's log folder and an error. */
  watch<T>(what: string, run: () => Promise<T>): Promise<T>;
}

export function stallWatch(target: { pid: () => number; url: string; databaseUrl: string; dir: string }): StallWatch {
  async function diagnose(what: string): Promise<string> {
    const pid = target.pid();
    const lines = [`stall: ${what} did not answer within ${stallMs} ms`, `threads of ${pid} (tid name state wchan):`, ...threads(pid).map((t) => `  ${t}`)];
    const health = await fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => `answered ${r.status}`,
      (err: Error) => `no answer (${err.name})`,
    );
    lines.push(`/healthz: ${health}`);
    const client = new pg.Client({ connectionString: target.databaseUrl });
    try {
      await client.connect();
      const { rows } = await client.query(
        "SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS xact_age, left(query, 160) AS query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
      );
      lines.push("Postgres sessions:", ...rows.map((r: unknown) => `  ${JSON.stringify(r)}`));
    } catch (err) {
      lines.push(`Postgres sessions: unreadable (${(err as Error).message})`);
    } finally {
      await client.end().catch(() => {});
    }
    try {
      process.kill(pid, "SIGUSR2");
      await new Promise((r) => setTimeout(r, 2000));
      lines.push(`diagnostic report (if the process could write one): ${target.dir}/report.*.json`);
    } catch {
      lines.push("diagnostic report: the process is gone");
    }
    const file = join(target.dir, "stall.txt");
    writeFileSync(file, `${lines.join("\n")}\n`);
    return `${lines.join("\n")}\n(written to ${file})`;
  }

  return {
    async watch(what, run) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<typeof STALLED>((resolve) => {
        timer = setTimeout(() => resolve(STALLED), stallMs);
      });
      const work = run();
      try {
        const first = await Promise.race([work, stalled]);
        if (first !== STALLED) return first;
      } finally {
        clearTimeout(timer);
      }
      work.catch(() => {});
      throw new Error(await diagnose(what));
    },
  };
}
