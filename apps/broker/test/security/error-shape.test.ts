// Finding 10, wrong error shape: a path parameter over 200 characters got Fastify's own 414 JSON
// ({ error: "Bad Request", code: "FST_ERR_MAX_PARAM_LENGTH", ... } echoing the path), not the
// documented { error, message, request_id }.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../support/app.ts";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.close());

describe("URLs the router refuses", () => {
  it("attack: a 201-character path parameter on every parameterised route → 414 in the documented shape, path not echoed", async () => {
    const long = "a".repeat(201);
    for (const url of [`/connect/register/${long}`, `/ledger/consents/${long}`, `/ledger/consents/${long}/receipt`, `/messenger/webhook/${long}`, `/links/${long}`]) {
      const res = await broker.app.inject({ url });
      expect([404, 414], url).toContain(res.statusCode);
      const body = res.json();
      expect(Object.keys(body).sort(), url).toEqual(["error", "message", "request_id"]);
      expect(body.request_id).toBe(res.headers["x-request-id"]);
      expect(res.body).not.toContain(long);
      expect(res.body).not.toContain("FST_");
    }
    expect((await broker.app.inject({ url: `/connect/register/${long}` })).statusCode).toBe(414);
  });
});
