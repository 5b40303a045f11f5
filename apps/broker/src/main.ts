import cluster from "node:cluster";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { createDb, migrateAsOwner, migrateIfPending, type Db } from "@link-broker/db";
import closeWithGrace from "close-with-grace";
import { buildApp } from "./app.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogDestination } from "./logger.ts";
import { answerParent, MIGRATE_CHILD_ENV, migrateInChild } from "./migrate-child.ts";
import { checkMasterKey, describeMasterKeyProblem } from "./master-key/master-key-check.ts";
import { createSealer } from "./crypto/seal.ts";
import { createSealedValuesRepo } from "./master-key/sealed-values-repo.ts";
import { serveClusterMetrics, shareWorkerMetrics } from "./ops/cluster-metrics.ts";
import { buildMetricsListener } from "./ops/metrics-listener.ts";
import { superviseWorkers } from "./workers.ts";

/** One line on stderr and exit 1: start-up problems are configuration, not crashes. */
function die(message: string): never {
  process.stderr.write(`link-broker: ${message}\n`);
  process.exit(1);
}

/** Names the database problem without echoing credentials from the URL. */
export function describeDbError(err: unknown, url: string | undefined): string {
  const e = err as { code?: string; message?: string };
  let where = "the embedded database";
  if (url) {
    try {
      const u = new URL(url);
      where = `postgres at ${u.hostname}:${u.port || 5432}${u.pathname}`;
    } catch {}
  }
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ENOTFOUND: "host not found",
    ETIMEDOUT: "connection timed out",
    "3D000": "database does not exist",
    "28P01": "authentication failed",
    "28000": "authentication failed",
  };
  const reason = (e.code && known[e.code]) ?? e.code ?? e.message?.split("\n")[0]?.replace(/postgres(ql)?:\/\/\S+/g, "[url]") ?? "unknown error";
  return `DATABASE_URL: cannot use ${where} (${reason})`;
}

/** One line naming the variable to change when the port cannot be had. */
export function describeListenError(err: unknown, host: string, port: number): string {
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE") return `PORT: ${host}:${port} is already in use by another process; stop it or set PORT to a free port`;
  if (code === "EACCES") return `PORT: ${host}:${port} needs privileges this process lacks; set PORT above 1023`;
  if (code === "EADDRNOTAVAIL") return `HOST: ${host} is not an address of this machine`;
  return `cannot listen on ${host}:${port} (${code ?? (err as Error).message})`;
}

async function main() {
  const migrateChild = process.env[MIGRATE_CHILD_ENV] === "1";
  let config: Config;
  try {
    // `.data/` is where the command was run (pnpm sets INIT_CWD), not the package folder.
    const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), ".data");
    // Workers and the migration child re-read the configuration their parent already warned about.
    const warn = cluster.isPrimary && !migrateChild ? (m: string) => process.stderr.write(`link-broker: warning: ${m}\n`) : () => {};
    config = loadConfig(process.env, { dataDir, warn });
  } catch (err) {
    if (err instanceof ConfigError) die(err.message);
    throw err;
  }

  if (migrateChild) {
    // The short-lived child of migrateInChild (migrate-child.ts): migrate, answer, exit.
    let db: Db | undefined;
    try {
      db = await createDb({ url: config.databaseUrl! });
      await migrateAsOwner(db, config.databaseMigrationUrl);
      answerParent(undefined);
    } catch (err) {
      answerParent(err);
    } finally {
      await db?.close().catch(() => {});
    }
    return;
  }

  // A taken port is found before the database is opened and migrated, which can take seconds;
  // listen() below still reports one taken in between.
  if (cluster.isPrimary && config.port !== 0) {
    const taken = await new Promise<unknown>((resolve) => {
      const probe = createServer();
      probe.once("error", resolve);
      probe.listen(config.port, config.host, () => probe.close(() => resolve(undefined)));
    });
    if (taken) die(describeListenError(taken, config.host, config.port));
  }

  // With BROKER_WORKERS above 1 this process migrates once, then only supervises the workers.
  const supervisor = cluster.isPrimary && config.workers > 1;
  let db: Db;
  try {
    db = await createDb({ url: config.databaseUrl ?? join(config.dataDir, "pglite") });
    // Postgres migrates in a short-lived child, so the schema engine's memory leaves with it; the
    // embedded database belongs to one process, so it migrates here. Either only when needed.
    if (cluster.isPrimary) await migrateIfPending(db, config.databaseMigrationUrl, db.kind === "postgres" ? migrateInChild : undefined);
  } catch (err) {
    die(describeDbError(err, config.databaseUrl));
  }
  if (cluster.isPrimary) {
    const sealer = createSealer(config.masterKey, config.previousMasterKeys);
    const status = await checkMasterKey({ repo: createSealedValuesRepo(db), sealer }).catch((err) => die(describeDbError(err, config.databaseUrl)));
    if (!status.ok) {
      await db.close();
      die(describeMasterKeyProblem(status, sealer.kid));
    }
  }
  if (supervisor) {
    await db.close();
    // Workers answer /healthz with the supervisor's instance id: one broker, one id.
    process.env.BROKER_INSTANCE_ID = config.instanceId;
    superviseWorkers(config.workers, (line) => process.stderr.write(`link-broker: ${line}\n`));
    // METRICS_PORT is the supervisor's: the sum of every worker (cluster-metrics.ts).
    const metricsPort = config.metricsPort;
    if (metricsPort !== undefined) {
      serveClusterMetrics(config.host, metricsPort, (err) => {
        process.stderr.write(`link-broker: METRICS_PORT: cannot listen on ${config.host}:${metricsPort} (${(err as { code?: string }).code ?? err.message})\n`);
        // The workers end with the supervisor (their cluster channel closes).
        process.exit(1);
      });
    }
    return;
  }

  const logDestination = createLogDestination();
  const app = await buildApp({ config, db, logStream: logDestination });
  // A worker's metrics go to its supervisor, which serves METRICS_PORT for all of them.
  shareWorkerMetrics(app.metricsRegistry);
  const metricsApp = config.metricsPort !== undefined && !cluster.isWorker ? await buildMetricsListener(app.metricsRegistry) : undefined;
  // A worker leaves SIGINT to its supervisor, which passes it on as SIGTERM: a terminal's Ctrl-C
  // reaches the whole process group, and a second signal would cut the graceful close short.
  if (cluster.isWorker) process.on("SIGINT", () => {});
  // Started with --report-on-signal, Node's report signal (SIGUSR2 unless --report-signal says
  // otherwise) asks for a diagnostic report of the running broker: it must not also stop it.
  const skip: string[] = [...(cluster.isWorker ? ["SIGINT"] : []), ...(process.report.reportOnSignal ? [process.report.signal] : [])];
  closeWithGrace({ delay: 10_000, skip: skip as closeWithGrace.AllEvents[] }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, "shutting down after an error");
    else app.log.info({ signal }, "shutting down");
    // Stops accepting, lets in-flight requests finish, then the database closes.
    await metricsApp?.close();
    await app.close();
    await db.close();
    // Lines still queued for the asynchronous stdout writer go out before close-with-grace exits
    // (pino also flushes on exit; this keeps the guarantee explicit).
    logDestination.flushSync();
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close().catch(() => {});
    await db.close();
    die(describeListenError(err, config.host, config.port));
  }
  try {
    if (metricsApp) await metricsApp.listen({ host: config.host, port: config.metricsPort });
  } catch (err) {
    await app.close();
    await db.close();
    die(`METRICS_PORT: cannot listen on ${config.host}:${config.metricsPort} (${(err as { code?: string }).code ?? (err as Error).message})`);
  }
}

await main();
