// The production build: scripts/build.mjs bundles the broker and deploys it with production
// dependencies only; the result starts with plain `node` (no tsx, no TypeScript) and gets ready.
// About 5 s to build and 30 s to boot on an idle 2-core machine (first PGlite migration); the
// deadlines leave room for a loaded one.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "./support/ports.ts";

const run = promisify(execFile);
const brokerDir = join(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "lb-build-"));
const out = join(work, "app");
let child: ChildProcess | undefined;
// On Postgres when DATABASE_URL is set (a database of its own), else on the embedded PGlite.
let db: TestDb | undefined;

afterAll(async () => {
  child?.kill("SIGKILL");
  if (child && child.exitCode === null) await new Promise((r) => child?.once("exit", r));
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

async function waitForReady(url: string, deadline: number): Promise<{ status: number; body: unknown }> {
  let last: unknown;
  while (Date.now() < deadline) {
    if (child?.exitCode !== null) throw new Error(`the built broker exited with ${child?.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return { status: res.status, body: await res.json() };
      last = res.status;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not ready in time: ${String(last)}`);
}

describe("production build", () => {
  it("bundles, deploys production dependencies only, and starts with node alone", async () => {
    const started = Date.now();
    await run(process.execPath, [join(brokerDir, "scripts", "build.mjs"), out], { cwd: brokerDir });
    console.log(`build and deploy: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(existsSync(join(out, "dist", "main.js"))).toBe(true);
    expect(existsSync(join(out, "dist", "prisma", "migrations"))).toBe(true);
    expect(existsSync(join(out, "src")), "no TypeScript source ships").toBe(false);
    // Prisma's query compiler ships as a file the generated client compiles (packages/db/scripts/generate.ts).
    expect(readdirSync(join(out, "dist")).filter((f) => f.endsWith(".wasm"))).toEqual([expect.stringMatching(/^query_compiler_\w+\.postgresql\.wasm$/)]);
    const modules = readdirSync(join(out, "node_modules"));
    for (const dev of ["tsx", "typescript", "vitest", "esbuild", "@redocly", "oidc-provider"]) expect(modules, dev).not.toContain(dev);

    const port = await freePort();
    if (process.env.DATABASE_URL) db = await createTestDb();
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", ...(db?.url ? { DATABASE_URL: db.url } : {}) };
    child = spawn(process.execPath, [join(out, "dist", "main.js")], { cwd: work, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d));
    const ready = await waitForReady(`http://127.0.0.1:${port}/readyz`, Date.now() + 100_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${stderr}`);
    });
    console.log(`built broker ready after ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
    expect(ready.body).toMatchObject({ status: "ready", pending_migrations: [] });
    // Files the code reads beside itself at run time came along (the console's stylesheet).
    const css = await fetch(`http://127.0.0.1:${port}/console/console.css`);
    expect(css.status).toBe(200);
    expect(await css.text()).toContain("{");
    // The CLI of the build runs compiled too.
    const help = await run(process.execPath, [join(out, "bin", "link-broker.js"), "--help"], { cwd: work, env }).catch((err: { stdout: string; stderr: string }) => err);
    expect(`${help.stdout}${help.stderr}`).toMatch(/usage: link-broker/);
  }, 180_000);
});
