import cluster, { type Worker } from "node:cluster";

/**
 * Runs `count` broker processes sharing one listening port (node:cluster), so one host uses all
 * its cores. The primary only supervises: it restarts a worker that dies after it started
 * serving, and on SIGTERM or SIGINT sends each worker SIGTERM, so it finishes its in-flight
 * requests, and exits when they have all gone. A worker that dies before it ever listened (bad
 * configuration, port taken) stops the whole group: restarting it would only fail again.
 * Workers share state only through Postgres, as separate replicas do.
 */
export function superviseWorkers(count: number, log: (line: string) => void): void {
  let stopping = false;
  const listening = new Set<Worker>();
  const alive = new Set<Worker>();
  const fork = () => alive.add(cluster.fork());

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    for (const w of alive) w.process.kill("SIGTERM");
    // close-with-grace in each worker gives in-flight requests 10 s; do not wait forever.
    setTimeout(() => process.exit(1), 15_000).unref();
  };

  cluster.on("listening", (worker) => listening.add(worker));
  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker);
    const started = listening.delete(worker);
    if (stopping || !started) {
      if (!stopping) stop(1);
      if (alive.size === 0) process.exit();
      return;
    }
    log(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
    fork();
  });
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
  for (let i = 0; i < count; i++) fork();
}
