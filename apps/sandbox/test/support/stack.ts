// What the browser suites share: `scripts/start.ts` (broker + sandbox, what `pnpm start` runs) on
// free ports and a temp data dir, with a Postgres database of its own when DATABASE_URL is set,
// and Debian's Chromium at phone size with the layout and labelling checks every page must pass.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { freePort } from "../../../broker/test/support/ports.ts";

export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
export const outputDir = join(repoRoot, "test-output", "e2e");
const docsDir = join(repoRoot, "docs", "screenshots");
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/** A fresh Postgres database beside the one DATABASE_URL names, as the other integration tests do. */
function freshDatabase(): { name: string; url: URL } | undefined {
  if (!process.env.DATABASE_URL) return undefined;
  const url = new URL(process.env.DATABASE_URL);
  const name = `link_broker_e2e_${process.pid}_${Date.now()}`;
  const args = ["-h", url.hostname, "-p", url.port || "5432", "-U", decodeURIComponent(url.username || "postgres"), name];
  const made = spawnSync("createdb", args, { env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } });
  if (made.status !== 0) throw new Error(`createdb failed: ${made.stderr}`);
  url.pathname = `/${name}`;
  return { name, url };
}

function dropDatabase(database: { name: string; url: URL }) {
  const u = database.url;
  spawnSync("dropdb", ["--if-exists", "--force", "-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres"), database.name], {
    env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) },
  });
}

/** The stack of one browser suite: its ports, data dir and database, started and stopped as often as the suite needs. */
export async function createStack() {
  const dataRoot = mkdtempSync(join(tmpdir(), "link-broker-e2e-"));
  const [port, sandboxPort, idpPort] = [await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = { INIT_CWD: dataRoot, PORT: String(port), SANDBOX_PORT: String(sandboxPort), SANDBOX_IDP_PORT: String(idpPort), LOG_LEVEL: "warn" };
  const database = freshDatabase();
  if (database) env.DATABASE_URL = database.url.toString();
  let child: ChildProcess | undefined;
  const state = {
    dataRoot,
    brokerUrl: `http://localhost:${port}`,
    chatUrl: `http://localhost:${sandboxPort}`,
    /** The last 20 kB of the stack's stderr. */
    log: "",
    /** Every error-level line the broker or the sandbox logged, across restarts. */
    loggedErrors: [] as string[],
    get process() {
      return child;
    },

    /** Starts `pnpm start`'s script and resolves with its one ready line. */
    start(): Promise<string> {
      const c = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      child = c;
      let stderr = "";
      c.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        state.log = stderr.slice(-20_000);
        for (const line of d.toString().split("\n")) if (/"level":(50|60)|verify handshake/.test(line)) state.loggedErrors.push(line.slice(0, 2000));
      });
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready within 90 s:\n${stderr}`)), 90_000);
        let out = "";
        c.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("\n")) {
            clearTimeout(timer);
            resolve(out.trim());
          }
        });
        c.on("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`start.ts exited (${code}):\n${stderr}`));
        });
      });
    },

    async stop() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    },

    /** The broker process that start.ts runs (its child running apps/broker/src/main.ts). */
    brokerPid(): number {
      const ps = spawnSync("ps", ["-o", "pid=,args=", "--ppid", String(child!.pid)], { encoding: "utf8" });
      const line = ps.stdout.split("\n").find((l) => l.includes("apps/broker/src/main.ts"));
      if (!line) throw new Error(`no broker process under start.ts (pid ${child!.pid}):\n${ps.stdout}`);
      return Number(line.trim().split(/\s+/)[0]);
    },

    async dispose() {
      await state.stop();
      if (database) dropDatabase(database);
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
  return state;
}

export type Stack = Awaited<ReturnType<typeof createStack>>;

// Runs in the page (kept as text: the test itself compiles without DOM types).
const PAGE_CHECKS = `(() => {
  const unlabeled = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.display === "none" || style.visibility === "hidden" || (box.width === 0 && box.height === 0)) continue;
    const labelled = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!labelled) unlabeled.push(el.name || el.id || el.outerHTML.slice(0, 80));
  }
  const doc = document.documentElement;
  return { scrollOk: doc.scrollWidth <= doc.clientWidth, unlabeled };
})()`;

export interface PageCheck {
  name: string;
  url: string;
  scrollOk: boolean;
  unlabeled: string[];
}

/** Screenshot at phone width, plus the layout and labelling checks every page must pass. */
export async function checkPage(page: Page, checks: PageCheck[], name: string, docsName?: string) {
  mkdirSync(outputDir, { recursive: true });
  await page.screenshot({ path: join(outputDir, `${name}.png`) });
  if (docsName && process.env.UPDATE_SCREENSHOTS === "1") {
    mkdirSync(docsDir, { recursive: true });
    await page.screenshot({ path: join(docsDir, `${docsName}.png`) });
  }
  const result = await page.evaluate<{ scrollOk: boolean; unlabeled: string[] }>(PAGE_CHECKS);
  checks.push({ name, url: page.url(), ...result });
}
