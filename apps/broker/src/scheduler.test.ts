import { describe, expect, it } from "vitest";
import { createScheduler } from "./scheduler.ts";

const tick = () => new Promise((r) => setTimeout(r, 30));

describe("scheduler", () => {
  it("runs each task on its interval once started, and no more after stop", async () => {
    const errors: string[] = [];
    const scheduler = createScheduler({ onError: (name) => errors.push(name) });
    let runs = 0;
    scheduler.every("count", 5, async () => {
      runs++;
    });
    await tick();
    expect(runs).toBe(0);
    scheduler.start();
    for (let i = 0; i < 50 && runs < 2; i++) await tick();
    expect(runs).toBeGreaterThanOrEqual(2);
    await scheduler.stop();
    const after = runs;
    await tick();
    expect(runs).toBe(after);
    expect(errors).toEqual([]);
  });

  it("never overlaps a task with itself, and reports a failure by the task's name", async () => {
    const errors: [string, unknown][] = [];
    const scheduler = createScheduler({ onError: (name, err) => errors.push([name, err]) });
    let concurrent = 0;
    let most = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    scheduler.every("slow", 2, async () => {
      concurrent++;
      most = Math.max(most, concurrent);
      await gate;
      concurrent--;
    });
    scheduler.every("broken", 2, async () => {
      throw new Error("boom");
    });
    scheduler.start();
    for (let i = 0; i < 50 && errors.length === 0; i++) await tick();
    await tick();
    release();
    await scheduler.stop();
    expect(most).toBe(1);
    expect(errors[0]![0]).toBe("broken");
    expect((errors[0]![1] as Error).message).toBe("boom");
  });

  it("runs one task on demand, refuses unknown names and duplicate registrations", async () => {
    const scheduler = createScheduler({ onError: () => {} });
    let runs = 0;
    scheduler.every("once", 60_000, async () => {
      runs++;
    });
    await scheduler.run("once");
    expect(runs).toBe(1);
    await expect(scheduler.run("missing")).rejects.toThrow("no task missing");
    expect(() => scheduler.every("once", 1, async () => {})).toThrow("already scheduled");
    expect(scheduler.tasks()).toEqual([{ name: "once", intervalMs: 60_000 }]);
  });
});
