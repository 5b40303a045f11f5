import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "./support/app.ts";
import { driveLinkFlow } from "./support/link-flow.ts";
import { startLinkingEnv } from "./support/linking-env.ts";
import { freePort } from "./support/ports.ts";

describe("access log: one line per request", () => {
  const lines: string[] = [];
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ env: { LOG_LEVEL: "info" }, deps: { logger: true, logStream: { write: (line: string) => void lines.push(line) } } });
  });
  afterAll(() => broker?.close());

  const linesOf = (requestId: string) => lines.map((l) => JSON.parse(l)).filter((l) => l.reqId === requestId);

  it("writes method, route, status, duration and request id once for a matched route", async () => {
    const res = await broker.app.inject({ method: "GET", url: "/healthz" });
    const mine = linesOf(res.headers["x-request-id"] as string);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: 30, msg: "request", method: "GET", route: "/healthz", url: "/healthz", status: 200 });
    expect(typeof mine[0].ms).toBe("number");
  });

  it("names the refusal's error code and the client on the same single line", async () => {
    const res = await broker.app.inject({ method: "POST", url: "/oauth/token", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials" });
    expect(res.statusCode).toBe(401);
    const mine = linesOf(res.headers["x-request-id"] as string);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ msg: "request", route: "/oauth/token", status: 401, error: "invalid_client" });
  });

  it("logs an unmatched URL once, under no route of its own, with secrets redacted", async () => {
    const res = await broker.app.inject({ method: "GET", url: "/nowhere/abc?code=CODE-SECRET&x=1" });
    expect(res.statusCode).toBe(404);
    const mine = linesOf(res.headers["x-request-id"] as string);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ route: "(unmatched)", status: 404, error: "not_found" });
    expect(JSON.stringify(mine)).not.toContain("CODE-SECRET");
  });
});

describe("access log: the time a request waited on servers outside", () => {
  it("writes upstream_ms on the lines of the steps that call the bank's IdP or Graph, and only there", async () => {
    const lines: string[] = [];
    const env = await startLinkingEnv({ logStream: { write: (line: string) => void lines.push(line) } });
    try {
      const bank = await env.registerBank({ metadata: { require_pushed_authorization_requests: false } });
      await driveLinkFlow(env, { clientId: bank.client_id });
      const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
      const lineOf = (method: string, route: string) => requests.find((l) => l.method === method && l.route === route);
      // /link: Graph (the PSID) and the IdP's discovery; the callback: the code exchange at the
      // bank; the consent page: the Messenger profile. The wait is part of the request's time.
      for (const [method, route] of [["GET", "/link"], ["GET", "/link/callback"], ["GET", "/link/consent"]] as const) {
        const line = lineOf(method, route);
        expect(line, `${method} ${route}`).toBeDefined();
        expect(typeof line.upstream_ms).toBe("number");
        expect(line.upstream_ms).toBeLessThanOrEqual(line.ms);
      }
      for (const [method, route] of [["GET", "/link/2fa"], ["POST", "/link/2fa"], ["POST", "/link/consent"]] as const) expect(lineOf(method, route)).not.toHaveProperty("upstream_ms");
    } finally {
      await env.close();
    }
  });
});

describe("the broker as started: asynchronous log writes", () => {
  it("loses no access-log line on SIGTERM", async () => {
    const port = await freePort();
    const cwd = mkdtempSync(join(tmpdir(), "lb-log-"));
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL("../src/main.ts", import.meta.url))], {
      cwd,
      env: { PATH: process.env.PATH!, INIT_CWD: cwd, PORT: String(port), LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; ; i++) {
        if ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok) break;
        if (i > 900) throw new Error(`the broker did not start: ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const ids: string[] = [];
      for (let round = 0; round < 10; round++) {
        const batch = await Promise.all(Array.from({ length: 25 }, () => fetch(`${base}/healthz`)));
        for (const res of batch) ids.push(res.headers.get("x-request-id")!);
      }
      // SIGTERM while a burst is in flight: those requests finish and are logged just before the
      // process exits, when the asynchronous writer still holds their lines.
      const burst = Array.from({ length: 200 }, () => fetch(`${base}/healthz`).then((res) => res.headers.get("x-request-id"), () => null));
      await new Promise((r) => setTimeout(r, 5));
      child.kill("SIGTERM");
      for (const id of await Promise.all(burst)) if (id) ids.push(id);
      expect(await exited).toBe(0);
      const logged = new Set(out.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.msg === "request").map((l) => l.reqId));
      expect(ids.filter((id) => !logged.has(id))).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 120_000);
});
