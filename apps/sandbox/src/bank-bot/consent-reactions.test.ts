import { describe, expect, it } from "vitest";
import { createConsentReactions } from "./consent-reactions.ts";
import type { PageMessage } from "./messenger-send.ts";

const event = { jti: "j1", type: "consent.expiring" as const, consent_id: "c1", link_id: "l1", psid: "1234567890", received_at: "2026-01-01T00:00:00Z" };

function setup() {
  const forgotten: unknown[] = [];
  const sent: { psid: string; message: PageMessage }[] = [];
  const reactions = createConsentReactions({
    forgetLink: (m) => {
      forgotten.push(m);
      return [];
    },
    loginUrl: async (psid) => `http://broker.test/link?client_id=bank&request_uri=urn:${psid}`,
    send: async (psid, message) => {
      sent.push({ psid, message });
      return { message_id: "m_1" };
    },
  });
  return { reactions, forgotten, sent };
}

describe("the bot's reactions to consent events", () => {
  it("consent.withdrawn forgets the link's tokens and sends nothing", () => {
    const { reactions, forgotten, sent } = setup();
    reactions.onWithdrawn({ ...event, type: "consent.withdrawn" });
    expect(forgotten).toEqual([{ consent_id: "c1", link_id: "l1", psid: "1234567890" }]);
    expect(sent).toEqual([]);
  });

  it("consent.expiring sends the customer a renewal button with the end date", async () => {
    const { reactions, sent } = setup();
    await reactions.onExpiring(event, { expires_at: Date.parse("2026-03-01T10:00:00.000Z") / 1000 });
    expect(sent).toEqual([
      {
        psid: "1234567890",
        message: { text: expect.stringContaining("ends on 2026-03-01"), buttons: [{ type: "account_link", url: "http://broker.test/link?client_id=bank&request_uri=urn:1234567890" }] },
      },
    ]);
  });
});
