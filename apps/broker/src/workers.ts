import cluster, { type Worker } from "node:cluster";

/**
 * Runs `count` broker processes sharing one listening port (node:cluster), so one host uses all
 * its cores. The primary only supervises: it restarts a worker that dies, and on SIGTERM or
 * SIGINT sends each worker SIGTERM, so it finishes its in-flight requests, and exits when they
 * have all gone. If workers die before any of them ever listened (bad configuration, port
 * taken), the group stops with exit code 1: restarting them would only fail again.
 * Workers share state only through Postgres, as separate replicas do.
 *
 * Connections are accepted by the workers themselves on the shared socket (SCHED_NONE), not by
 * the primary: with node's round-robin the primary accepts and hands each connection on, and one
 * handed to a worker at the moment it dies stays open in the primary with no one to answer it, so
 * the client hangs until its own timeout. Here a dying worker loses only what it had accepted.
 */
export function superviseWorkers(count: number, log: (line: string) => void): void {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
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

  let served = false;
  cluster.on("listening", (worker) => {
    listening.add(worker);
    served = true;
  });
  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker);
    const started = listening.delete(worker);
    if (!stopping && !served) stop(1);
    if (stopping) {
      if (alive.size === 0) process.exit();
      return;
    }
    log(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
    // One that never got to serve waits a moment, so a fault at start-up cannot spin.
    if (started) fork();
    else setTimeout(fork, 1000);
  });
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
  for (let i = 0; i < count; i++) fork();
}
