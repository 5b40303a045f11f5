import type { Clock } from "../clock.ts";
import type { ClaimedJob, JobRepo } from "./job-repo.ts";

export type JobHandler = (job: ClaimedJob) => Promise<void>;

/** What `runOne` did: ran the job to completion, ran it and it failed, or could not claim it. */
export type RunOutcome = "done" | "failed" | "taken";

export interface JobRunnerOptions {
  repo: Pick<JobRepo, "claim" | "claimDue" | "done" | "retryLater" | "purgeDone">;
  handlers: Record<string, JobHandler>;
  clock: Clock;
  leaseMs?: number;
  /** After this many attempts a job is left alone (its lastError says why). */
  maxAttempts?: number;
  /** Finished jobs are deleted this long after they finished (default 7 days). */
  retentionMs?: number;
  onError?: (job: ClaimedJob, err: unknown) => void;
  /** A job finished or failed after its lease ran out: another runner may have taken it. */
  onLeaseLost?: (job: ClaimedJob) => void;
}

/** Exponential backoff: 5 s, 10 s, 20 s, ... capped at one hour. */
export const backoffMs = (attempts: number) => Math.min(3_600_000, 5_000 * 2 ** Math.max(0, attempts - 1));

const BATCH = 20;
const PURGE_BATCH = 500;

/**
 * Runs due jobs; the broker's scheduler calls `runDue` every few seconds (links-module.ts).
 * Several broker processes may run it on one database: a claim is a lease taken with
 * `SKIP LOCKED`, and only the lease holder completes or retries the job.
 */
export function createJobRunner(options: JobRunnerOptions) {
  const { repo, handlers, clock, leaseMs = 60_000, maxAttempts = 12, retentionMs = 7 * 86_400_000, onError, onLeaseLost } = options;

  // Several runners share the job table (links, events): each claims only its own kinds.
  const kinds = Object.keys(handlers);

  async function run(job: ClaimedJob): Promise<"done" | "failed"> {
    const handler = handlers[job.kind];
    try {
      if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
      await handler(job);
      if (!(await repo.done(job, clock.now()))) onLeaseLost?.(job);
      return "done";
    } catch (err) {
      onError?.(job, err);
      const now = clock.now();
      const runAt = job.attempts >= maxAttempts ? new Date(8.64e15) : new Date(now.getTime() + backoffMs(job.attempts));
      if (!(await repo.retryLater(job, now, runAt, (err as Error).message ?? String(err)))) onLeaseLost?.(job);
      return "failed";
    }
  }

  /** Claims and runs one job now (e.g. right after enqueueing); "taken" if it could not claim it. */
  async function runOne(id: string): Promise<RunOutcome> {
    const job = await repo.claim(id, clock.now(), leaseMs);
    return job ? run(job) : "taken";
  }

  async function runDue(limit = BATCH): Promise<void> {
    await repo.purgeDone(new Date(clock.now().getTime() - retentionMs), PURGE_BATCH).catch(() => {});
    // One claim at a time: a lease starts when its job is about to run, not behind a queue.
    for (let i = 0; i < limit; i++) {
      const [job] = await repo.claimDue(clock.now(), leaseMs, 1, kinds);
      if (!job) return;
      await run(job);
    }
  }

  return {
    runOne,
    runDue,
  };
}
