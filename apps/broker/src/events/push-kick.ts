import type { Job } from "@link-broker/db";
import type { RunOutcome } from "../links/job-runner.ts";

export interface PushKickDeps {
  /** Claims and runs the job now, or answers "taken" when it could not be claimed. */
  runOne(id: string): Promise<RunOutcome>;
  find(id: string): Promise<Pick<Job, "doneAt"> | null>;
  /** True once the module is closing: stop trying. */
  closed(): boolean;
  tries?: number;
  pauseMs?: number;
}

/**
 * Runs an event's push job now. The job may be held for a moment by an attempt that found an
 * earlier event still pending and is about to put it back: try again, briefly, until that attempt
 * lets it go, so the wake-up is not lost to that race. Whether the job looks held is no guide: the
 * claim skips a row being updated, so it can fail while that attempt is already letting go.
 */
export function createPushKick(deps: PushKickDeps) {
  const { tries = 40, pauseMs = 50 } = deps;
  return async function kick(id: string): Promise<void> {
    for (let i = 0; i < tries && !deps.closed(); i++) {
      if ((await deps.runOne(id)) !== "taken") return;
      const job = await deps.find(id);
      if (!job || job.doneAt) return;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
}
