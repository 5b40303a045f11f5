import { describe, expect, it } from "vitest";
import type { RunOutcome } from "../links/job-runner.ts";
import { createPushKick } from "./push-kick.ts";

const now = new Date("2030-01-01T00:00:00Z");
type Row = { doneAt: Date | null } | null;

/** A kick whose claims answer `outcomes` in turn and whose looks at the job answer `rows` in turn. */
function kickWith(outcomes: RunOutcome[], rows: Row[]) {
  const calls = { runOne: 0, find: 0 };
  const kick = createPushKick({
    runOne: async () => outcomes[calls.runOne++] ?? "taken",
    find: async () => rows[calls.find++] ?? null,
    closed: () => false,
    tries: 5,
    pauseMs: 1,
  });
  return { kick, calls };
}

describe("push kick", () => {
  it("runs the job once when it can claim it, whether the run succeeds or fails", async () => {
    for (const outcome of ["done", "failed"] as const) {
      const { kick, calls } = kickWith([outcome], []);
      await kick("job");
      expect(calls).toEqual({ runOne: 1, find: 0 });
    }
  });

  // Whether or not the job looks held when looked at: the claim can fail on a row that the attempt
  // holding it is letting go (test/events.test.ts forces that on Postgres).
  it("waits for an attempt that holds the job, then claims it once it is let go", async () => {
    const { kick, calls } = kickWith(["taken", "taken", "done"], [{ doneAt: null }, { doneAt: null }]);
    await kick("job");
    expect(calls).toEqual({ runOne: 3, find: 2 });
  });

  it("stops when the job is done or gone, and gives up after its tries", async () => {
    for (const row of [{ doneAt: now }, null]) {
      const { kick, calls } = kickWith(["taken"], [row]);
      await kick("job");
      expect(calls).toEqual({ runOne: 1, find: 1 });
    }
    const held = { doneAt: null };
    const { kick, calls } = kickWith([], [held, held, held, held, held, held]);
    await kick("job");
    expect(calls).toEqual({ runOne: 5, find: 5 });
  });
});
