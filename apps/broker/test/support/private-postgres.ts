import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";

/** The newest server binaries Debian's packages install (`/usr/lib/postgresql/<major>/bin`). */
function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, "bin", "initdb"))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) {
    throw new Error("database fault tests need a private Postgres server: initdb was not found under /usr/lib/postgresql/*/bin (install Debian's postgresql package)");
  }
  return join(root, newest, "bin");
}

/**
 * A Postgres server of the test's own, in a temp folder on a free port, that the test may kill
 * and restart at will; the machine's shared server is never touched. initdb and pg_ctl refuse to
 * run as root, so as root they run as the `postgres` user.
 */
export interface PrivatePostgres {
  readonly port: number;
  /** A URL for database `name` (created by `createDatabase`). */
  url(name?: string): string;
  createDatabase(name: string): void;
  /** Kills the server at once, as a crash would (`pg_ctl stop -m immediate`). */
  kill(): void;
  start(): void;
  /** Stops the server and deletes its folder. */
  destroy(): void;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "lb-pg-"));
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const cmd = join(bin, tool);
    if (!asRoot) return execFileSync(cmd, args, { stdio: "pipe", timeout: 60_000 });
    const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    return execFileSync("su", ["postgres", "-s", "/bin/sh", "-c", quoted], { stdio: "pipe", timeout: 60_000 });
  };
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
  const port = await freePort();
  // fsync off: the tests kill the server process, never the machine, so the OS keeps what it wrote.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  const start = () => void run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "-t", "60", "start"]);
  start();
  const pg: PrivatePostgres = {
    port,
    url: (name = "postgres") => `postgres://postgres@127.0.0.1:${port}/${name}`,
    createDatabase(name) {
      run("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name]);
    },
    kill() {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    start,
    destroy() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pg;
}
