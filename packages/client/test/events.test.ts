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
