import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CryptoKey, createLocalJWKSet, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { createConsentEvents, type ReceivedEvent, SetRejected } from "./consent-events.ts";

const ISSUER = "http://broker.test";
const CLIENT = "bank-client-1";
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "consent-events-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function setup() {
  const broker = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(broker.publicKey)), kid: "k1", alg: "ES256" } as JWK;
  const withdrawn: ReceivedEvent[] = [];
  const expiring: ReceivedEvent[] = [];
  const events = createConsentEvents({
    dataDir: dir,
    jwks: createLocalJWKSet({ keys: [jwk] }),
    issuer: async () => ISSUER,
    clientId: async () => CLIENT,
    onWithdrawn: (e) => void withdrawn.push(e),
    onExpiring: (e) => void expiring.push(e),
  });
  const set = (over: { typ?: string; aud?: string; jti?: string; key?: CryptoKey; type?: string } = {}) =>
    new SignJWT({ events: { [over.type ?? "consent.withdrawn"]: { consent_id: "c1", link_id: "l1", psid: "1234567890", actor: "customer", seq: "7" } } })
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: over.typ ?? "secevent+jwt" })
      .setIssuer(ISSUER)
      .setAudience(over.aud ?? CLIENT)
      .setIssuedAt()
      .setJti(over.jti ?? crypto.randomUUID())
      .sign(over.key ?? broker.privateKey);
  return { events, set, withdrawn, expiring };
}

const rejection = (p: Promise<unknown>) => p.then(() => "accepted", (err: unknown) => (err instanceof SetRejected ? err.err : `threw ${(err as Error).message}`));

describe("consent event receiver", () => {
  it("handles a verified consent.withdrawn once per jti", async () => {
    const { events, set, withdrawn } = await setup();
    const token = await set({ jti: "jti-1" });
    expect(await events.receive(token)).toMatchObject({ duplicate: false, events: [{ type: "consent.withdrawn", link_id: "l1", psid: "1234567890", actor: "customer", seq: "7" }] });
    expect(await events.receive(token)).toEqual({ duplicate: true, events: [] });
    expect(withdrawn).toHaveLength(1);
    expect(events.received().map((e) => e.jti)).toEqual(["jti-1"]);
  });

  it("hands consent.expiring to the renewal step, whether the key is a name or a URI", async () => {
    const { events, set, expiring, withdrawn } = await setup();
    await events.receive(await set({ type: "https://schemas.example/secevent/consent/expiring" }));
    await events.receive(await set({ type: "consent.expiring" }));
    expect(expiring.map((e) => e.type)).toEqual(["consent.expiring", "consent.expiring"]);
    expect(withdrawn).toHaveLength(0);
  });

  it("refuses another audience, another key, another typ and junk, handling none of them", async () => {
    const { events, set, withdrawn } = await setup();
    const stranger = await generateKeyPair("ES256");
    expect(await rejection(events.receive(await set({ aud: "other-bank" })))).toBe("invalid_audience");
    expect(await rejection(events.receive(await set({ key: stranger.privateKey })))).toBe("invalid_key");
    expect(await rejection(events.receive(await set({ typ: "JWT" })))).toBe("invalid_request");
    expect(await rejection(events.receive("not-a-jwt"))).toBe("invalid_request");
    expect(withdrawn).toHaveLength(0);
    expect(events.received()).toEqual([]);
  });
});
