import type { ConsentEnd } from "@link-broker/consent-ledger";
import type { Link } from "@link-broker/db";
import { describe, expect, it } from "vitest";
import { createLinksService } from "./links-service.ts";

function setup(link: Partial<Link>, end: ConsentEnd | undefined, ended: { id: string; consentId: string }[]) {
  const row = { id: "link-1", clientId: "bank", subject: "cust", psid: "psid", status: "active", consentId: "consent-new", unlinkedAt: null, unlinkedBy: null, ...link } as Link;
  const calls: string[] = [];
  const service = createLinksService({
    links: {
      find: async () => row,
      markUnlinked: async (_id, actor, _now, consentId, alsoInTx) => {
        if (row.status !== "active" || (consentId !== undefined && row.consentId !== consentId)) return { changed: false };
        calls.push(`unlinked by ${actor}`);
        row.status = "unlinked";
        return { changed: true, also: await alsoInTx?.({} as never) };
      },
      activeWithConsent: async () => ended,
    },
    jobs: {
      enqueue: async () => {
        calls.push("graph job");
        return { id: "job-1" } as never;
      },
    },
    oauth: {
      revokeGrantsOfLink: async () => {
        calls.push("revoked");
        return 1;
      },
    },
    ledger: {
      withdraw: async (i) => {
        calls.push(`withdraw ${i.consentId} by ${i.actor}`);
        return { consentId: i.consentId, changed: false, state: "withdrawn", message: "no-op: already withdrawn" };
      },
      endOf: async () => end,
      // Every consent these links hold has ended (the reconciler then asks how).
      inactiveAmong: async (ids) => ids,
    },
    clock: { now: () => new Date() },
  });
  return { service, calls, row };
}

describe("reconciling links with the ledger", () => {
  it("unlinks a link whose consent was withdrawn elsewhere, as the withdrawing actor, telling Messenger", async () => {
    const { service, calls } = setup({ consentId: "consent-1" }, { state: "withdrawn", actor: "compliance" }, [{ id: "link-1", consentId: "consent-1" }]);
    expect(await service.reconcileEndedConsents()).toBe(1);
    expect(calls).toEqual(["withdraw consent-1 by compliance", "revoked", "unlinked by compliance", "graph job"]);
  });

  it("leaves a link alone that was re-linked (new consent) after it was found", async () => {
    const { service, calls, row } = setup({ consentId: "consent-new" }, { state: "withdrawn", actor: "compliance" }, [{ id: "link-1", consentId: "consent-old" }]);
    expect(await service.reconcileEndedConsents()).toBe(0);
    expect(calls).toEqual([]);
    expect(row.status).toBe("active");
  });

  it("skips a consent the ledger reports active again or unknown", async () => {
    const { service, calls } = setup({ consentId: "consent-1" }, undefined, [{ id: "link-1", consentId: "consent-1" }]);
    expect(await service.reconcileEndedConsents()).toBe(0);
    expect(calls).toEqual([]);
  });
});
