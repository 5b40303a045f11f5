// Finding 7: registration refused "advertis…" in any field but marketing and profiling only as
// scopes (`purposes: ["marketing", "profiling"]` registered with 201), and took form bodies,
// which RFC 7591 does not. All three are now refused everywhere with the ledger's one
// normalisation, and a body that is not JSON is 415.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "../support/app.ts";

let broker: TestBroker;
const auth = { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` };
const base = { grant_types: ["client_credentials"], scope: "ledger:check" };
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.close());

const register = (payload: unknown) => broker.app.inject({ method: "POST", url: "/connect/register", headers: auth, payload: payload as object });

describe("registration refuses advertising, marketing and profiling in any field", () => {
  it("attack: marketing and profiling as purposes, in names, in URLs, folded or spaced → invalid_client_metadata, nothing stored", async () => {
    const before = await broker.db.prisma.client.count();
    for (const extra of [
      { purposes: ["marketing", "profiling"] },
      { purposes: ["MARKETING"] },
      { client_name: "Bank Pro-filing Services" },
      { client_name: "ａｄｖｅｒｔｉｓｉｎｇ desk" },
      { client_uri: "https://bank.example/marketing" },
      { contacts: ["ad_vertising@bank.example"] },
      { software_id: "Marketing" },
    ]) {
      const res = await register({ ...base, ...extra });
      expect(res.statusCode, JSON.stringify(extra)).toBe(400);
      expect(res.json().error).toBe("invalid_client_metadata");
    }
    expect(await broker.db.prisma.client.count()).toBe(before);
  });

  it("a client without those words still registers", async () => {
    expect((await register({ ...base, client_name: "Sandbox Bank", contacts: ["ops@bank.example"] })).statusCode).toBe(201);
  });
});

describe("registration takes JSON only (RFC 7591)", () => {
  it("attack: a form or text body → 415, nothing stored", async () => {
    const before = await broker.db.prisma.client.count();
    for (const [type, payload] of [
      ["application/x-www-form-urlencoded", "grant_types=client_credentials&scope=ledger%3Acheck"],
      ["text/plain", JSON.stringify(base)],
    ] as const) {
      const res = await broker.app.inject({ method: "POST", url: "/connect/register", headers: { ...auth, "content-type": type }, payload });
      expect(res.statusCode).toBe(415);
      expect(res.json().error).toBe("invalid_request");
    }
    const put = await broker.app.inject({ method: "PUT", url: "/connect/register/anyone", headers: { ...auth, "content-type": "application/x-www-form-urlencoded" }, payload: "client_name=x" });
    expect(put.statusCode).toBe(415);
    expect(await broker.db.prisma.client.count()).toBe(before);
  });
});

describe("registration assigns the client_id (RFC 9700 §2.6)", () => {
  it("attack: a client naming its own client_id (e.g. another bank's) → invalid_client_metadata", async () => {
    const res = await register({ ...base, client_id: "bank-a" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_client_metadata");
    expect(await broker.db.prisma.client.count({ where: { id: "bank-a" } })).toBe(0);
  });
});
