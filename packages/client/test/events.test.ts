// The client's consent-event helpers against a real broker over HTTP: poll, verify, acknowledge.
import { afterAll, beforeAll, expect, it } from "vitest";
import { createBrokerClient, createEventVerifier, EventVerificationError, registerClient } from "../src/index.ts";
import { startBroker, type RunningBroker } from "./support/broker.ts";

let b: RunningBroker;
beforeAll(async () => {
  b = await startBroker();
});
afterAll(() => b?.close());

it("polls consent events, verifies them with the broker's keys, and acknowledges them", async () => {
  const reg = await registerClient({ brokerUrl: b.url, initialAccessToken: b.initialAccessToken, metadata: { client_name: "Poll bank" } });
  const other = await registerClient({ brokerUrl: b.url, initialAccessToken: b.initialAccessToken, metadata: { client_name: "Other bank" } });
  const client = createBrokerClient({ brokerUrl: b.url, clientId: reg.client_id, auth: { method: "client_secret_basic", clientSecret: reg.client_secret! } });
  const ledger = b.broker.app.modules.ledger.ledger;
  const g = await ledger.grant({ clientId: reg.client_id, subject: "c1", linkId: "l1", psid: "p1", scopes: ["alerts:fraud"], actor: "customer" });
  await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
  await b.broker.app.modules.events.collect();

  const verifier = createEventVerifier({ brokerUrl: b.url, clientId: reg.client_id });
  const { sets, moreAvailable } = await client.pollEvents({ returnImmediately: true });
  expect(moreAvailable).toBe(false);
  const events = await Promise.all(Object.values(sets).map((s) => verifier.verify(s)));
  expect(events.map((e) => e.type)).toEqual(["consent.granted", "consent.withdrawn"]);
  expect(events[1]!.event).toMatchObject({ consent_id: g.consentId, link_id: "l1", psid: "p1", actor: "customer", pairs: [{ scope: "alerts:fraud", purpose: "fraud_alerts" }] });
  expect(Object.keys(sets)).toEqual(events.map((e) => e.jti));

  // Another bank's verifier refuses them (aud), and so does any tampering.
  await expect(createEventVerifier({ brokerUrl: b.url, clientId: other.client_id }).verify(Object.values(sets)[0]!)).rejects.toThrow(/aud/);
  const [h, p, s] = Object.values(sets)[0]!.split(".");
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), aud: reg.client_id, iss: b.url, events: { "consent.granted": {} } })).toString("base64url");
  await expect(verifier.verify(`${h}.${forged}.${s}`)).rejects.toThrow(EventVerificationError);
  const otherTyp = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(h!, "base64url").toString()), typ: "at+jwt" })).toString("base64url");
  await expect(verifier.verify(`${otherTyp}.${p}.${s}`)).rejects.toThrow(/typ/);

  expect(await client.pollEvents({ ack: Object.keys(sets), returnImmediately: true })).toEqual({ sets: {}, moreAvailable: false });
}, 120_000);

it("runs the guide's event snippets: a pushed withdrawal reaches the bank's handler once; polling takes every event", async () => {
  const { createServer } = await import("node:http");
  const { eventsEndpoint, pollEvents } = await import("../examples/6-consent-events.ts");
  const handled: string[] = [];
  const seen = new Set<string>();
  let handler: ((body: string) => Promise<{ status: number; json?: object }>) | undefined;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      const answer = await handler!(body);
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.json ? JSON.stringify(answer.json) : "");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const eventsUri = `http://127.0.0.1:${(server.address() as { port: number }).port}/events`;
  try {
    const reg = await registerClient({ brokerUrl: b.url, initialAccessToken: b.initialAccessToken, metadata: { client_name: "Push bank", events_uri: eventsUri } });
    handler = eventsEndpoint({ brokerUrl: b.url, clientId: reg.client_id, seen, onEvent: async (e) => void handled.push(`${e.type}:${e.event.consent_id}`) });
    // A forged body is refused with RFC 8935's error.
    expect(await handler("not.a.set")).toMatchObject({ status: 400, json: { err: "invalid_request" } });
    const ledger = b.broker.app.modules.ledger.ledger;
    const g = await ledger.grant({ clientId: reg.client_id, subject: "c2", linkId: "l2", psid: "p2", scopes: ["balance:read"], actor: "customer" });
    await ledger.withdraw({ consentId: g.consentId, actor: "messenger" });
    const deadline = Date.now() + 10_000;
    while (handled.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(handled).toEqual([`consent.granted:${g.consentId}`, `consent.withdrawn:${g.consentId}`]);

    const polled: string[] = [];
    const client = createBrokerClient({ brokerUrl: b.url, clientId: reg.client_id, auth: { method: "client_secret_basic", clientSecret: reg.client_secret! } });
    // Push delivered them: polling has nothing left for this bank.
    expect(await pollEvents(client, b.url, async (e) => void polled.push(e.type))).toBe(0);
    // A bank without events_uri polls them all, then nothing more.
    const pollReg = await registerClient({ brokerUrl: b.url, initialAccessToken: b.initialAccessToken, metadata: { client_name: "Poll bank 2" } });
    const pollClient = createBrokerClient({ brokerUrl: b.url, clientId: pollReg.client_id, auth: { method: "client_secret_basic", clientSecret: pollReg.client_secret! } });
    const p = await ledger.grant({ clientId: pollReg.client_id, subject: "c3", linkId: "l3", psid: "p3", scopes: ["balance:read"], actor: "customer" });
    await ledger.renew({ consentId: p.consentId, actor: "customer", expiresAt: new Date(Date.now() + 200 * 86_400_000) });
    await b.broker.app.modules.events.collect();
    expect(await pollEvents(pollClient, b.url, async (e) => void polled.push(e.type))).toBe(2);
    expect(polled).toEqual(["consent.granted", "consent.renewed"]);
    expect(await pollEvents(pollClient, b.url, async (e) => void polled.push(e.type))).toBe(0);
  } finally {
    server.close();
  }
}, 120_000);
