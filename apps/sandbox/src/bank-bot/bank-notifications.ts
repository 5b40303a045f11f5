// The bank's pushes: a suspicious card payment or a salary credit for one bank customer becomes a
// Messenger message, but only after the consent ledger allows that (scope, purpose) pair for the
// PSID it goes to. A refusal sends nothing and keeps the ledger's reason for the bank page.
import { BrokerUnreachableError, type CheckResult } from "@link-broker/client";
import { findCustomer } from "../bank-idp/customers.ts";
import type { MessengerSend } from "./messenger-send.ts";
import { SendApiError } from "./messenger-send.ts";

export const PUSHES = {
  fraud: {
    label: "Suspicious card payment",
    scope: "alerts:fraud",
    purpose: "fraud_alerts",
    text: "Fraud alert: a card payment of €1,249.00 at ONLINE-ELECTRONICS-SHOP was just attempted with your card. If it was not you, call Sandbox Bank on +353 1 555 0100 and we will block the card.",
  },
  salary: {
    label: "Salary credit",
    scope: "transactions:read",
    purpose: "transaction_notifications",
    text: "Money in: €2,800.00 salary from ACME Payroll was credited to your Checking account.",
  },
} as const;

export type PushKind = keyof typeof PUSHES;
export const isPushKind = (k: unknown): k is PushKind => typeof k === "string" && Object.hasOwn(PUSHES, k);

export interface PushOutcome {
  at: string;
  customerId: string;
  kind: PushKind;
  /** sent: at least one message went out; refused: the ledger said no (or no link); failed: nothing sent, a party was down. */
  outcome: "sent" | "refused" | "failed";
  /** The ledger's reason (`active`, `withdrawn`, `scope_not_granted`, `no_consent`, ...), `not_linked`, or what failed. */
  reason: string;
  sentTo: string[];
}

export interface NotificationDeps {
  linkedPsids(sub: string): string[];
  checkPair(who: { psid: string } | { subject: string }, scope: string, purpose: string): Promise<CheckResult>;
  send: MessengerSend;
  now?: () => number;
}

export function createBankNotifications(deps: NotificationDeps) {
  const now = deps.now ?? Date.now;
  const outcomes: PushOutcome[] = [];

  async function decideAndSend(customerId: string, kind: PushKind): Promise<Omit<PushOutcome, "at" | "customerId" | "kind">> {
    const push = PUSHES[kind];
    const psids = deps.linkedPsids(customerId);
    if (!psids.length) {
      // No live link here: the ledger still says why (withdrawn, expired, no consent).
      const check = await deps.checkPair({ subject: customerId }, push.scope, push.purpose);
      return { outcome: "refused", reason: check.allowed ? "not_linked" : String(check.reason), sentTo: [] };
    }
    const sentTo: string[] = [];
    let refusal: string | undefined;
    for (const psid of psids) {
      // Asked right before each push: a withdrawal a moment ago must stop this one.
      const check = await deps.checkPair({ psid }, push.scope, push.purpose);
      if (!check.allowed) {
        refusal ??= String(check.reason);
        continue;
      }
      await deps.send(psid, { text: push.text });
      sentTo.push(psid);
    }
    return sentTo.length ? { outcome: "sent", reason: "active", sentTo } : { outcome: "refused", reason: refusal ?? "no_consent", sentTo };
  }

  return {
    /** One simulated bank event for one customer; never throws for a party that is down. */
    async simulate(customerId: string, kind: PushKind): Promise<PushOutcome> {
      if (!findCustomer(customerId)) throw new Error(`unknown customer ${customerId}`);
      let result: Omit<PushOutcome, "at" | "customerId" | "kind">;
      try {
        result = await decideAndSend(customerId, kind);
      } catch (err) {
        if (err instanceof BrokerUnreachableError) result = { outcome: "failed", reason: "broker_unreachable", sentTo: [] };
        else if (err instanceof SendApiError) result = { outcome: "failed", reason: `messenger_error: ${err.message}`, sentTo: [] };
        else throw err;
      }
      const outcome: PushOutcome = { at: new Date(now()).toISOString(), customerId, kind, ...result };
      outcomes.unshift(outcome);
      outcomes.splice(50);
      return outcome;
    },
    outcomes: (): readonly PushOutcome[] => outcomes,
  };
}

export type BankNotifications = ReturnType<typeof createBankNotifications>;
