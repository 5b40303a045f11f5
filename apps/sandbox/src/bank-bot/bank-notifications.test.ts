import { describe, expect, it } from "vitest";
import { BrokerUnreachableError, type CheckResult } from "@link-broker/client";
import { createBankNotifications } from "./bank-notifications.ts";

type Who = { psid: string } | { subject: string };

function setup(links: Record<string, string[]>, answer: (who: Who, scope: string, purpose: string) => CheckResult | Error) {
  const asked: { who: Who; scope: string; purpose: string }[] = [];
  const sent: string[] = [];
  const notifications = createBankNotifications({
    linkedPsids: (sub) => links[sub] ?? [],
    checkPair: async (who, scope, purpose) => {
      asked.push({ who, scope, purpose });
      const a = answer(who, scope, purpose);
      if (a instanceof Error) throw a;
      return a;
    },
    send: async (psid) => {
      sent.push(psid);
      return { message_id: "m_1" };
    },
  });
  return { notifications, asked, sent };
}

const result = (allowed: boolean, reason: string) => ({ allowed, reason, consent_id: "c1", expires_at: null }) as unknown as CheckResult;

describe("the bank's pushes", () => {
  it("asks the ledger for the push's own pair for each linked PSID and sends only where it is allowed", async () => {
    const { notifications, asked, sent } = setup({ "cust-1001": ["111111111", "222222222"] }, (who) => ("psid" in who && who.psid === "111111111" ? result(true, "active") : result(false, "withdrawn")));
    expect(await notifications.simulate("cust-1001", "fraud")).toMatchObject({ outcome: "sent", reason: "active", sentTo: ["111111111"] });
    expect(asked.map((a) => [a.scope, a.purpose])).toEqual([
      ["alerts:fraud", "fraud_alerts"],
      ["alerts:fraud", "fraud_alerts"],
    ]);
    expect(sent).toEqual(["111111111"]);
    await notifications.simulate("cust-1001", "salary");
    expect(asked.at(-1)).toMatchObject({ scope: "transactions:read", purpose: "transaction_notifications" });
  });

  it("a refusal sends nothing and keeps the ledger's reason", async () => {
    const { notifications, sent } = setup({ "cust-1002": ["333333333"] }, () => result(false, "scope_not_granted"));
    expect(await notifications.simulate("cust-1002", "fraud")).toMatchObject({ outcome: "refused", reason: "scope_not_granted", sentTo: [] });
    expect(sent).toEqual([]);
    expect(notifications.outcomes()[0]).toMatchObject({ customerId: "cust-1002", kind: "fraud", outcome: "refused" });
  });

  it("with no live link it asks by the bank's customer id, to say why", async () => {
    const { notifications, asked, sent } = setup({}, () => result(false, "withdrawn"));
    expect(await notifications.simulate("cust-1001", "fraud")).toMatchObject({ outcome: "refused", reason: "withdrawn" });
    expect(asked[0]!.who).toEqual({ subject: "cust-1001" });
    expect(sent).toEqual([]);
  });

  it("a broker that cannot be reached means no push", async () => {
    const { notifications, sent } = setup({ "cust-1001": ["111111111"] }, () => new BrokerUnreachableError(new Error("ECONNREFUSED")));
    expect(await notifications.simulate("cust-1001", "fraud")).toMatchObject({ outcome: "failed", reason: "broker_unreachable" });
    expect(sent).toEqual([]);
  });
});
