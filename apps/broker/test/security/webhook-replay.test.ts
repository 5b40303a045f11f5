// Finding 10, webhook replay: a captured signed `unlinked` body worked again once the 7-day replay
// key had been purged. Events are now judged by their own timestamp: older than the window (or
// dated ahead of the clock) they are refused, whatever the replay table still remembers.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driveLinkFlow } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "../support/linking-env.ts";

let env: LinkingEnv;
let client: SeededClient;
beforeAll(async () => {
  env = await startLinkingEnv();
  client = await env.seedClient();
});
afterAll(() => env?.close());

const DAY = 86_400_000;
const unlinkedBody = (psid: string, timestamp: number) =>
  JSON.stringify({ object: "page", entry: [{ id: env.graph.pageId, time: timestamp, messaging: [{ sender: { id: psid }, recipient: { id: env.graph.pageId }, timestamp, account_linking: { status: "unlinked" } }] }] });
const post = (body: string) =>
  fetch(`${env.brokerUrl}/messenger/webhook/${client.id}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${createHmac("sha256", client.appSecret).update(body).digest("hex")}` },
    body,
  });

describe("Messenger webhook replay", () => {
  it("attack: a captured signed `unlinked` body replayed after the window, its key purged → refused, the new link stays", async () => {
    await driveLinkFlow(env, { clientId: client.id, psid: "psid-replay" });
    const captured = unlinkedBody("psid-replay", env.clock.now().getTime());
    expect(await (await post(captured)).json()).toMatchObject({ unlinked: 1 });

    // Eight days on, the customer links again and the replay table has been purged.
    env.clock.advance(8 * DAY);
    await driveLinkFlow(env, { clientId: client.id, psid: "psid-replay" });
    await env.db.prisma.replayGuard.deleteMany({ where: { expiresAt: { lt: env.clock.now() } } });
    const replay = await post(captured);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ received: 1, unlinked: 0, stale: 1 });
    expect(await env.db.prisma.link.count({ where: { psid: "psid-replay", status: "active" } })).toBe(1);
  });

  it("attack: an event dated in the future (to outlive its replay key) or without a timestamp → refused", async () => {
    await driveLinkFlow(env, { clientId: client.id, psid: "psid-future", username: "bob" });
    for (const body of [unlinkedBody("psid-future", env.clock.now().getTime() + 30 * DAY), unlinkedBody("psid-future", Number.NaN)]) {
      expect(await (await post(body)).json()).toMatchObject({ unlinked: 0, stale: 1 });
    }
    expect(await env.db.prisma.link.count({ where: { psid: "psid-future", status: "active" } })).toBe(1);
  });
});
