import cluster from "node:cluster";
import { join, resolve } from "node:path";
import { createDb, migrateAsOwner, type Db } from "@link-broker/db";
import closeWithGrace from "close-with-grace";
import { buildApp } from "./app.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogDestination } from "./logger.ts";
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

async function main() {
  let config: Config;
  try {
    // `.data/` is where the command was run (pnpm sets INIT_CWD), not the package folder.
    const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), ".data");
    // Workers re-read the configuration their supervisor already warned about.
    const warn = cluster.isPrimary ? (m: string) => process.stderr.write(`link-broker: warning: ${m}\n`) : () => {};
    config = loadConfig(process.env, { dataDir, warn });
  } catch (err) {
    if (err instanceof ConfigError) die(err.message);
    throw err;
  }

  // With BROKER_WORKERS above 1 this process migrates once, then only supervises the workers.
  const supervisor = cluster.isPrimary && config.workers > 1;
  let db: Db;
  try {
    db = await createDb({ url: config.databaseUrl ?? join(config.dataDir, "pglite") });
    if (cluster.isPrimary) await migrateAsOwner(db, config.databaseMigrationUrl);
  } catch (err) {
    die(describeDbError(err, config.databaseUrl));
  }
  if (supervisor) {
    await db.close();
    superviseWorkers(config.workers, (line) => process.stderr.write(`link-broker: ${line}\n`));
    return;
  }

  const logDestination = createLogDestination();
  const app = await buildApp({ config, db, logStream: logDestination });
  // A worker leaves SIGINT to its supervisor, which passes it on as SIGTERM: a terminal's Ctrl-C
  // reaches the whole process group, and a second signal would cut the graceful close short.
  if (cluster.isWorker) process.on("SIGINT", () => {});
  closeWithGrace({ delay: 10_000, skip: cluster.isWorker ? ["SIGINT"] : [] }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, "shutting down after an error");
    else app.log.info({ signal }, "shutting down");
    // Stops accepting, lets in-flight requests finish, then the database closes.
    await app.close();
    await db.close();
    // Lines still queued for the asynchronous stdout writer go out before close-with-grace exits
    // (pino also flushes on exit; this keeps the guarantee explicit).
    logDestination.flushSync();
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await db.close();
    die(`cannot listen on ${config.host}:${config.port} (${(err as { code?: string }).code ?? (err as Error).message})`);
  }
}

await main();
