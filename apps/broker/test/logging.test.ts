import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "./support/app.ts";

describe("request logs", () => {
  const lines: string[] = [];
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({
      env: { LOG_LEVEL: "info" },
      deps: { logger: true, logStream: { write: (line: string) => void lines.push(line) } },
    });
  });
  afterAll(() => broker?.close());

  it("carry a request id and never secrets from the query, headers or body", async () => {
    const res = await broker.app.inject({
      method: "POST",
      url: "/nowhere?account_linking_token=ALT-SECRET&code=CODE-SECRET&client_id=bank-1",
      headers: { authorization: "Basic QVVUSC1TRUNSRVQ=", cookie: "lb_attempt=COOKIE-SECRET", "content-type": "application/json" },
      payload: { client_secret: "BODY-SECRET" },
    });
    expect(res.statusCode).toBe(404);
    const log = lines.join("");
    expect(log).toContain(res.headers["x-request-id"] as string);
    expect(log).toContain("client_id=bank-1");
    for (const secret of ["ALT-SECRET", "CODE-SECRET", "QVVUSC1TRUNSRVQ", "COOKIE-SECRET", "BODY-SECRET"]) expect(log).not.toContain(secret);
    const requestLines = lines.map((l) => JSON.parse(l)).filter((l) => l.reqId === res.headers["x-request-id"]);
    expect(requestLines).toHaveLength(1);
    expect(requestLines[0]).toMatchObject({ msg: "request", status: 404, error: "not_found" });
  });

  it("the real OAuth endpoints, at the most verbose level, never log a secret they handled", async () => {
    const verbose: string[] = [];
    const app = await buildTestApp({
      config: broker.config,
      db: broker.db,
      logger: true,
      logStream: { write: (line: string) => void verbose.push(line) },
    });
    app.log.level = "trace";
    const form = { "content-type": "application/x-www-form-urlencoded" };
    try {
      const registered = await app.inject({
        method: "POST",
        url: "/connect/register",
        headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` },
        payload: { client_name: "Log Bank", grant_types: ["client_credentials"], scope: "ledger:check" },
      });
      expect(registered.statusCode).toBe(201);
      const { client_id, client_secret, registration_access_token } = registered.json();
      const basicAuth = Buffer.from(`${client_id}:${client_secret}`).toString("base64");
      const minted = await app.inject({ method: "POST", url: "/oauth/token", headers: { ...form, authorization: `Basic ${basicAuth}` }, payload: "grant_type=client_credentials&scope=ledger%3Acheck" });
      expect(minted.statusCode).toBe(200);
      const accessToken = minted.json().access_token as string;
      const calls = [
        { url: "/oauth/introspect", payload: `token=${accessToken}` },
        { url: "/oauth/revoke", payload: `token=${accessToken}` },
        // Refused requests log their refusal: still no secret.
        { url: "/oauth/token", payload: "grant_type=authorization_code&code=CODE-SECRET-1&code_verifier=VERIFIER-SECRET-1" },
        { url: "/oauth/token", payload: "grant_type=refresh_token&refresh_token=REFRESH-SECRET-1" },
        { url: "/par", payload: "scope=balance%3Aread&code_challenge=x&client_assertion=ASSERTION-SECRET-1" },
        // Secrets a careless caller puts in the query string.
        { url: "/oauth/token?code=QUERY-CODE-1&refresh_token=QUERY-REFRESH-1", payload: "grant_type=client_credentials" },
      ];
      for (const call of calls) {
        const res = await app.inject({ method: "POST", url: call.url, headers: { ...form, authorization: `Basic ${basicAuth}` }, payload: call.payload });
        expect(res.statusCode, call.url).toBeLessThan(500);
      }
      const wrong = await app.inject({ method: "POST", url: "/oauth/token", headers: { ...form, authorization: `Basic ${Buffer.from(`${client_id}:WRONG-SECRET-1`).toString("base64")}` }, payload: "grant_type=client_credentials" });
      expect(wrong.statusCode).toBe(401);
      const read = await app.inject({ url: `/connect/register/${client_id}`, headers: { authorization: `Bearer ${registration_access_token}` } });
      expect(read.statusCode).toBe(200);
      // The linking flow's entry, as Messenger opens it (refused here: the client has no Messenger settings).
      const link = await app.inject({ url: `/link?client_id=${client_id}&account_linking_token=ALT-SECRET-2&redirect_uri=https%3A%2F%2Fx.example%2F&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3AREQUEST-URI-SECRET` });
      expect(link.statusCode).toBe(400);

      const log = verbose.join("");
      // The endpoints logged these requests (so the check below is about real lines)...
      for (const path of ["/connect/register", "/oauth/token", "/oauth/introspect", "/oauth/revoke", "/par", "/link"]) expect(log, path).toContain(path);
      // ...and none of what they handled.
      for (const secret of [TEST_REGISTRATION_TOKEN, client_secret, registration_access_token, basicAuth, accessToken, accessToken.split(".")[2]!, "CODE-SECRET-1", "VERIFIER-SECRET-1", "REFRESH-SECRET-1", "ASSERTION-SECRET-1", "WRONG-SECRET-1", "QUERY-CODE-1", "QUERY-REFRESH-1", "ALT-SECRET-2", "REQUEST-URI-SECRET"]) {
        expect(log.includes(secret), `a log line carries ${secret.slice(0, 12)}…`).toBe(false);
      }
    } finally {
      await app.close();
    }
  });
});
