import { fork } from "node:child_process";

/** Set in the child that only migrates (main.ts); never set by an operator. */
export const MIGRATE_CHILD_ENV = "LINK_BROKER_MIGRATE_CHILD";

type ChildAnswer = { ok: true } | { ok: false; code?: string; message: string };

/**
 * Runs this same entry point (`tsx src/main.ts` or `node dist/main.js`, with the same Node
 * flags) as a short-lived child that migrates and exits: the WebAssembly schema engine's memory
 * (about 50 MB that V8 never returns) leaves with it, and the broker starts without it. Rejects
 * with the child's error, `code` kept, so main names the database problem as before.
 */
export function migrateInChild(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, process.argv.slice(2), {
      env: { ...process.env, [MIGRATE_CHILD_ENV]: "1" },
      execArgv: process.execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let answer: ChildAnswer | undefined;
    child.once("message", (m) => (answer = m as ChildAnswer));
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (answer?.ok) return resolve();
      if (answer) return reject(Object.assign(new Error(answer.message), { code: answer.code }));
      reject(new Error(`the migration process exited (${signal ?? code})`));
    });
  });
}

/** In the child: tell the parent how the migration went, then let the process end. */
export function answerParent(err: unknown): void {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const answer: ChildAnswer = err === undefined ? { ok: true } : { ok: false, code: typeof e?.code === "string" ? e.code : undefined, message: String(e?.message ?? err) };
  process.send?.(answer, () => process.disconnect?.());
}
