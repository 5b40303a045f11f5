import type { ConsentEnd } from "@link-broker/consent-ledger";
import type { Link } from "@link-broker/db";
import { describe, expect, it } from "vitest";
import { GRAPH_UNLINK_JOB } from "../messenger/unlink-job.ts";
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

/** Links in memory, and every call the service makes to the ledger, OAuth and the job queue. */
function world(links: Partial<Link>[], options: { ended?: Record<string, ConsentEnd>; runJob?: (id: string) => Promise<unknown> } = {}) {
  const rows = links.map((l, i) => ({ id: `link-${String(i).padStart(4, "0")}`, clientId: "bank", subject: "cust", psid: `psid-${i}`, status: "active", consentId: `consent-${i}`, unlinkedAt: null, unlinkedBy: null, ...l }) as Link);
  const ended = options.ended ?? {};
  const calls = { withdraw: [] as unknown[], revoke: [] as unknown[], jobs: [] as unknown[], runJob: [] as string[], endOf: [] as string[], inactiveAmong: [] as string[][], pages: [] as (string | undefined)[] };
  const service = createLinksService({
    links: {
      find: async (id) => rows.find((r) => r.id === id) ?? null,
      markUnlinked: async (id, actor, now, consentId, alsoInTx) => {
        const row = rows.find((r) => r.id === id)!;
        if (row.status !== "active" || (consentId !== undefined && row.consentId !== consentId)) return { changed: false };
        Object.assign(row, { status: "unlinked", unlinkedBy: actor, unlinkedAt: now });
        return { changed: true, also: await alsoInTx?.({} as never) };
      },
      activeWithConsent: async (after, limit) => {
        calls.pages.push(after);
        return rows
          .filter((r) => r.status === "active" && r.consentId !== null && (after === undefined || r.id > after))
          .slice(0, limit)
          .map((r) => ({ id: r.id, consentId: r.consentId! }));
      },
    },
    jobs: {
      enqueue: async (kind, payload) => {
        calls.jobs.push({ kind, payload });
        return { id: `job-${calls.jobs.length}` } as never;
      },
    },
    oauth: {
      revokeGrantsOfLink: async (linkId, reason) => {
        calls.revoke.push({ linkId, reason });
        return 1;
      },
    },
    ledger: {
      withdraw: async (i) => {
        calls.withdraw.push(i);
        return { consentId: i.consentId, changed: true, state: "withdrawn", message: "withdrawn" };
      },
      endOf: async (id) => {
        calls.endOf.push(id);
        return ended[id];
      },
      inactiveAmong: async (ids) => {
        calls.inactiveAmong.push(ids);
        return ids.filter((id) => ended[id]);
      },
    },
    clock: { now: () => new Date("2030-01-01T00:00:00Z") },
    runJob: async (id) => {
      calls.runJob.push(id);
      return options.runJob?.(id);
    },
  });
  return { service, calls, rows };
}

describe("unlinking", () => {
  const bank = { actor: "bank", reason: "unlinked by the bank", notifyMessenger: true } as const;

  it("withdraws the consent, revokes the link's grants, unlinks, and queues and runs the Graph job", async () => {
    const { service, calls, rows } = world([{ clientId: "bank-a", psid: "psid-x", consentId: "consent-9" }]);
    expect(await service.unlink("link-0000", bank)).toEqual({ status: "unlinked" });
    expect(calls.withdraw).toEqual([{ consentId: "consent-9", actor: "bank", reason: "unlinked by the bank" }]);
    expect(calls.revoke).toEqual([{ linkId: "link-0000", reason: "unlinked by the bank" }]);
    expect(rows[0]).toMatchObject({ status: "unlinked", unlinkedBy: "bank" });
    expect(calls.jobs).toEqual([{ kind: GRAPH_UNLINK_JOB, payload: { clientId: "bank-a", psid: "psid-x", linkId: "link-0000" } }]);
    expect(calls.runJob).toEqual(["job-1"]);
  });

  it("records the evidence on the withdrawal", async () => {
    const { service, calls } = world([{}]);
    await service.unlink("link-0000", { actor: "compliance", reason: "staff", notifyMessenger: true, evidence: { staff: "s-1" } });
    expect(calls.withdraw).toEqual([{ consentId: "consent-0", actor: "compliance", reason: "staff", evidence: { staff: "s-1" } }]);
  });

  it("withdraws nothing for a link that holds no consent, and still revokes its grants", async () => {
    const { service, calls } = world([{ consentId: null }]);
    expect(await service.unlink("link-0000", bank)).toEqual({ status: "unlinked" });
    expect(calls.withdraw).toEqual([]);
    expect(calls.revoke).toHaveLength(1);
  });

  it("does not tell Messenger when Messenger started the unlink", async () => {
    const { service, calls, rows } = world([{}]);
    expect(await service.unlink("link-0000", { actor: "messenger", reason: "unlinked in Messenger", notifyMessenger: false })).toEqual({ status: "unlinked" });
    expect(rows[0]!.status).toBe("unlinked");
    expect(calls.jobs).toEqual([]);
    expect(calls.runJob).toEqual([]);
  });

  it("a Graph job that fails at once is left to the runner's retries; the unlink stands", async () => {
    const { service, rows } = world([{}], { runJob: async () => Promise.reject(new Error("graph down")) });
    expect(await service.unlink("link-0000", bank)).toEqual({ status: "unlinked" });
    expect(rows[0]!.status).toBe("unlinked");
  });

  it("answers not_found for an unknown link, touching nothing", async () => {
    const { service, calls } = world([{}]);
    expect(await service.unlink("link-9999", bank)).toEqual({ status: "not_found" });
    expect(calls).toMatchObject({ withdraw: [], revoke: [], jobs: [] });
  });

  it("a second unlink is already_unlinked and queues no second Graph job", async () => {
    const { service, calls } = world([{}]);
    await service.unlink("link-0000", bank);
    expect(await service.unlink("link-0000", bank)).toEqual({ status: "already_unlinked" });
    expect(calls.jobs).toHaveLength(1);
  });

  it("with a consent the link no longer holds: already_unlinked, touching nothing", async () => {
    const { service, calls, rows } = world([{ consentId: "consent-new" }]);
    expect(await service.unlink("link-0000", { ...bank, consentId: "consent-old" })).toEqual({ status: "already_unlinked" });
    expect(calls).toMatchObject({ withdraw: [], revoke: [], jobs: [] });
    expect(rows[0]!.status).toBe("active");
  });
});

describe("reconciling many links", () => {
  it("ends only the links whose consent ended, with the reason and actor of its end, over several pages", async () => {
    // 501 links: two pages of the reconciler (500 a page); one withdrawn, one expired, on different pages.
    const { service, calls, rows } = world(
      Array.from({ length: 501 }, () => ({})),
      { ended: { "consent-3": { state: "withdrawn", actor: "compliance" }, "consent-500": { state: "expired", actor: "system" } } },
    );
    expect(await service.reconcileEndedConsents()).toBe(2);
    expect(calls.pages).toEqual([undefined, "link-0499"]);
    expect(calls.endOf).toEqual(["consent-3", "consent-500"]);
    expect(calls.revoke).toEqual([
      { linkId: "link-0003", reason: "consent withdrawn in the ledger" },
      { linkId: "link-0500", reason: "consent expired" },
    ]);
    expect(rows.filter((r) => r.status === "unlinked").map((r) => [r.id, r.unlinkedBy])).toEqual([
      ["link-0003", "compliance"],
      ["link-0500", "system"],
    ]);
    expect(calls.jobs).toHaveLength(2);
  });

  it("asks the ledger nothing when no link is active", async () => {
    const { service, calls } = world([{ status: "unlinked" }]);
    expect(await service.reconcileEndedConsents()).toBe(0);
    expect(calls.inactiveAmong).toEqual([]);
  });
});
