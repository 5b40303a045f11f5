import { randomUUID } from "node:crypto";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createJobRepo, type JobRepo } from "../src/links/job-repo.ts";
import { createJobRunner } from "../src/links/job-runner.ts";
import { createLinksRepo } from "../src/links/links-repo.ts";
import { createLinksService } from "../src/links/links-service.ts";
import { GRAPH_UNLINK_JOB } from "../src/messenger/unlink-job.ts";

let db: TestDb;
let repo: JobRepo;
let t = Date.parse("2030-01-01T00:00:00Z");
const clock = { now: () => new Date(t) };

beforeAll(async () => {
  db = await createTestDb();
  repo = createJobRepo(db);
});
afterAll(async () => db?.drop());
beforeEach(async () => {
  await db.prisma.job.deleteMany({});
});

describe("job runner on one database", () => {
  it("two runners at once run each job exactly once", async () => {
    for (let i = 0; i < 40; i++) await repo.enqueue("count", { i }, clock.now());
    const runs = new Map<string, number>();
    const handler = async (job: { id: string }) => {
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
    };
    // Each runner has its own repo, as two broker processes would.
    const a = createJobRunner({ repo: createJobRepo(db), clock, handlers: { count: handler } });
    const b = createJobRunner({ repo: createJobRepo(db), clock, handlers: { count: handler } });
    await Promise.all([a.runDue(40), b.runDue(40), a.runDue(40), b.runDue(40)]);
    expect(runs.size).toBe(40);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(await db.prisma.job.count({ where: { doneAt: null } })).toBe(0);
  });

  it("a job whose lease ran out goes to the next claimer; the first cannot complete or retry it", async () => {
    const job = await repo.enqueue("slow", {}, clock.now());
    const first = await repo.claim(job.id, clock.now(), 1_000);
    expect(first).not.toBeNull();
    expect(await repo.claim(job.id, clock.now(), 1_000)).toBeNull(); // held
    t += 1_500;
    const second = await repo.claim(job.id, clock.now(), 60_000);
    expect(second?.leaseId).not.toBe(first!.leaseId);
    expect(await repo.done(first!, clock.now())).toBe(false);
    expect(await repo.retryLater(first!, clock.now(), new Date(t + 5_000), "late")).toBe(false);
    expect((await repo.find(job.id))?.doneAt).toBeNull();
    expect(await repo.done(second!, clock.now())).toBe(true);
    expect((await repo.find(job.id))?.doneAt).not.toBeNull();
  });

  it("a lease that ran out with nobody else claiming still does not complete the job", async () => {
    const job = await repo.enqueue("slow", {}, clock.now());
    const claimed = await repo.claim(job.id, clock.now(), 1_000);
    t += 2_000;
    expect(await repo.done(claimed!, clock.now())).toBe(false);
    // It stays claimable, so it runs again rather than being lost.
    expect(await repo.claim(job.id, clock.now(), 1_000)).not.toBeNull();
  });

  it("the runner reports a lost lease and leaves the new claimer's outcome alone", async () => {
    const job = await repo.enqueue("slow", {}, clock.now());
    const lost: string[] = [];
    const runner = createJobRunner({
      repo,
      clock,
      leaseMs: 1_000,
      onLeaseLost: (j) => lost.push(j.id),
      handlers: {
        slow: async () => {
          t += 5_000; // the handler outlives its lease, and another runner takes the job
          await repo.claim(job.id, clock.now(), 60_000);
        },
      },
    });
    await runner.runOne(job.id);
    expect(lost).toEqual([job.id]);
    const row = await repo.find(job.id);
    expect(row?.doneAt).toBeNull();
    expect(row?.attempts).toBe(2);
  });

  it("purges finished jobs after the retention period, and only those", async () => {
    const old = await repo.enqueue("x", {}, clock.now());
    const recent = await repo.enqueue("x", {}, clock.now());
    const pending = await repo.enqueue("x", {}, clock.now());
    await db.prisma.job.update({ where: { id: old.id }, data: { doneAt: new Date(t - 8 * 86_400_000) } });
    await db.prisma.job.update({ where: { id: recent.id }, data: { doneAt: new Date(t - 86_400_000) } });
    await db.prisma.job.update({ where: { id: pending.id }, data: { runAt: new Date(t + 86_400_000) } });
    const runner = createJobRunner({ repo, clock, handlers: {}, retentionMs: 7 * 86_400_000 });
    await runner.runDue();
    const left = (await db.prisma.job.findMany({ select: { id: true } })).map((j) => j.id).sort();
    expect(left).toEqual([recent.id, pending.id].sort());
  });
});

describe("unlink and its Graph job", () => {
  it("are one transaction: when the job cannot be written, the link stays active for a retry", async () => {
    const link = await db.prisma.link.create({ data: { id: randomUUID(), clientId: "bank", subject: "s", psid: `p-${randomUUID()}` } });
    const real = createJobRepo(db);
    let failEnqueue = true;
    const service = createLinksService({
      links: createLinksRepo(db),
      jobs: {
        enqueue: async (...args: Parameters<JobRepo["enqueue"]>) => {
          if (failEnqueue) throw new Error("process stopped here");
          return real.enqueue(...args);
        },
      },
      oauth: { revokeGrantsOfLink: async () => 0 },
      ledger: { withdraw: async () => ({}) as never, endOf: async () => undefined, inactiveAmong: async () => [] as never },
      clock,
    });
    await expect(service.unlink(link.id, { actor: "bank", reason: "test", notifyMessenger: true })).rejects.toThrow("process stopped here");
    expect((await db.prisma.link.findUniqueOrThrow({ where: { id: link.id } })).status).toBe("active");
    failEnqueue = false;
    expect(await service.unlink(link.id, { actor: "bank", reason: "test", notifyMessenger: true })).toEqual({ status: "unlinked" });
    expect(await db.prisma.job.count({ where: { kind: GRAPH_UNLINK_JOB } })).toBe(1);
  });
});
