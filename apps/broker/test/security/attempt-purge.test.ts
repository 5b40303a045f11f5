// Finding 10, attempt rows were never deleted: every visit to /link left a row for ever. Expired
// attempts are deleted a day after they expire, on the job runner's tick.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTEMPT_RETENTION_MS, ATTEMPT_TTL_MS } from "../../src/linking/link-attempt.ts";
import { openLink } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "../support/linking-env.ts";

let env: LinkingEnv;
let client: SeededClient;
beforeAll(async () => {
  env = await startLinkingEnv();
  client = await env.seedClient();
});
afterAll(() => env?.close());

describe("link attempts", () => {
  it("abandoned attempts are deleted once past their retention; recent ones stay", async () => {
    for (let i = 0; i < 3; i++) expect((await openLink(env, { clientId: client.id, psid: `psid-old-${i}` })).response.status).toBe(302);
    env.clock.advance(ATTEMPT_TTL_MS + ATTEMPT_RETENTION_MS + 60_000);
    expect((await openLink(env, { clientId: client.id, psid: "psid-recent" })).response.status).toBe(302);
    expect(await env.db.prisma.linkAttempt.count()).toBe(4);

    await env.broker.modules.scheduler.run("linking.expire-attempts");
    const left = await env.db.prisma.linkAttempt.findMany({ select: { psid: true } });
    expect(left.map((a) => a.psid)).toEqual(["psid-recent"]);
  });
});
