/**
 * The one scheduler of the broker: every periodic task (sweeps, consent expiry, checkpoints,
 * unlink retries) is registered here by the module that owns it, with a name and an interval.
 * A task never overlaps itself; a failure is reported and the task runs again next interval.
 * Every broker process runs the same tasks, so each task is idempotent and safe to run
 * concurrently (claims, conditional updates, "first writer wins" inserts).
 */
export type Task = () => Promise<unknown>;

export interface Scheduler {
  /** Registers `task` to run every `intervalMs` once the scheduler starts. Names are unique. */
  every(name: string, intervalMs: number, task: Task): void;
  start(): void;
  /** Stops the timers and waits for running tasks to finish. */
  stop(): Promise<void>;
  /** Runs one task now (tests, the CLI); rejects with its error. */
  run(name: string): Promise<void>;
  /** The registered tasks, with their intervals. */
  tasks(): { name: string; intervalMs: number }[];
}

interface Entry {
  name: string;
  intervalMs: number;
  task: Task;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}

export function createScheduler(deps: { onError: (task: string, err: unknown) => void }): Scheduler {
  const entries = new Map<string, Entry>();
  let started = false;

  function runEntry(entry: Entry): Promise<void> {
    entry.running ??= (async () => {
      try {
        await entry.task();
      } finally {
        entry.running = undefined;
      }
    })();
    return entry.running;
  }

  function arm(entry: Entry) {
    entry.timer = setInterval(() => {
      if (entry.running) return;
      runEntry(entry).catch((err) => deps.onError(entry.name, err));
    }, entry.intervalMs);
    entry.timer.unref();
  }

  return {
    every(name, intervalMs, task) {
      if (entries.has(name)) throw new Error(`task ${name} is already scheduled`);
      const entry: Entry = { name, intervalMs, task };
      entries.set(name, entry);
      if (started) arm(entry);
    },
    start() {
      if (started) return;
      started = true;
      for (const entry of entries.values()) arm(entry);
    },
    async stop() {
      started = false;
      for (const entry of entries.values()) clearInterval(entry.timer);
      await Promise.allSettled([...entries.values()].map((e) => e.running));
    },
    run(name) {
      const entry = entries.get(name);
      if (!entry) return Promise.reject(new Error(`no task ${name}`));
      return runEntry(entry);
    },
    tasks: () => [...entries.values()].map(({ name, intervalMs }) => ({ name, intervalMs })),
  };
}
