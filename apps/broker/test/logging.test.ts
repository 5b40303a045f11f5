import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "./support/app.ts";

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
});
