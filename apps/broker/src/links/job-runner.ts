import type { Job } from "@link-broker/db";
import type { Clock } from "../clock.ts";
import type { JobRepo } from "./job-repo.ts";

export type JobHandler = (job: Job) => Promise<void>;

export interface JobRunnerOptions {
  repo: Pick<JobRepo, "claim" | "due" | "done" | "retryLater">;
  handlers: Record<string, JobHandler>;
  clock: Clock;
  leaseMs?: number;
  /** After this many attempts a job is left alone (its lastError says why). */
  maxAttempts?: number;
  onError?: (job: Job, err: unknown) => void;
}

/** Exponential backoff: 5 s, 10 s, 20 s, ... capped at one hour. */
export const backoffMs = (attempts: number) => Math.min(3_600_000, 5_000 * 2 ** Math.max(0, attempts - 1));

/**
 * Runs due jobs; the broker's scheduler calls `runDue` every few seconds (links-module.ts).
 * Several broker processes may run it at once (a claim is a lease).
 */
export function createJobRunner(options: JobRunnerOptions) {
  const { repo, handlers, clock, leaseMs = 60_000, maxAttempts = 12, onError } = options;

  async function runOne(id: string): Promise<boolean> {
    const job = await repo.claim(id, clock.now(), leaseMs);
    if (!job) return false;
    const handler = handlers[job.kind];
    try {
      if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
      await handler(job);
      await repo.done(job.id, clock.now());
      return true;
    } catch (err) {
      onError?.(job, err);
      const runAt = job.attempts >= maxAttempts ? new Date(8.64e15) : new Date(clock.now().getTime() + backoffMs(job.attempts));
      await repo.retryLater(job.id, runAt, (err as Error).message ?? String(err));
      return false;
    }
  }

  async function runDue(limit = 20): Promise<void> {
    const due = await repo.due(clock.now(), limit);
    for (const { id } of due) await runOne(id);
  }

  return {
    runOne,
    runDue,
  };
}
