import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "./support/ports.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const TSX = import.meta.resolve("tsx");
const BROKER = join(ROOT, "apps/broker/src/main.ts");
const SANDBOX = join(ROOT, "apps/sandbox/src/main.ts");
const START = join(ROOT, "scripts/start.ts");

const held: Server[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Something else listening on `port`, as another program would. */
async function occupy(port: number): Promise<void> {
  const server = createServer((socket) => socket.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  held.push(server);
}

async function ports() {
  return { PORT: String(await freePort()), SANDBOX_PORT: String(await freePort()), SANDBOX_IDP_PORT: String(await freePort()) };
}

function run(entry: string, env: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), "lb-ports-"));
  const res = spawnSync(process.execPath, ["--import", TSX, entry], {
    cwd,
    env: { PATH: process.env.PATH!, INIT_CWD: cwd, SANDBOX_DATA_DIR: join(cwd, "sandbox"), LOG_LEVEL: "silent", ...env },
    encoding: "utf8",
    timeout: 90_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr.split("\n").filter((l) => l && !l.includes("warning:")) };
}

// Independent of the database: runs once, in the Postgres pass of the test command.
describe.runIf(process.env.DATABASE_URL)("a port already in use", () => {
  it("stops pnpm start with one line naming PORT, and no ready line", async () => {
    const env = await ports();
    await occupy(Number(env.PORT));
    const res = run(START, env);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
    expect(res.stderr).toEqual([`link-broker: PORT: 127.0.0.1:${env.PORT} is already in use by another process; stop it or set PORT to a free port`]);
  });

  it("stops pnpm start with one line naming SANDBOX_IDP_PORT", async () => {
    const env = await ports();
    await occupy(Number(env.SANDBOX_IDP_PORT));
    const res = run(START, env);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
    expect(res.stderr).toEqual([`link-broker: SANDBOX_IDP_PORT: 127.0.0.1:${env.SANDBOX_IDP_PORT} is already in use by another process; stop it or set SANDBOX_IDP_PORT to a free port`]);
  });

  it("stops the broker alone with one line naming PORT", async () => {
    const env = await ports();
    await occupy(Number(env.PORT));
    const res = run(BROKER, env);
    expect(res.code).toBe(1);
    expect(res.stderr).toEqual([`link-broker: PORT: 127.0.0.1:${env.PORT} is already in use by another process; stop it or set PORT to a free port`]);
  }, 120_000);

  it("stops the sandbox alone with one line naming SANDBOX_PORT or SANDBOX_IDP_PORT", async () => {
    for (const variable of ["SANDBOX_PORT", "SANDBOX_IDP_PORT"] as const) {
      const env = await ports();
      await occupy(Number(env[variable]));
      const res = run(SANDBOX, { ...env, BROKER_URL: `http://127.0.0.1:${env.PORT}` });
      expect(res.code).toBe(1);
      expect(res.stderr).toEqual([`sandbox: ${variable}: 127.0.0.1:${env[variable]} is already in use by another process; stop it or set ${variable} to a free port`]);
    }
  }, 120_000);
});
