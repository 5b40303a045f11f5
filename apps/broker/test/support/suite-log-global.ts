// vitest global setup of the broker's tests: a directory for the run's logs and secrets
// (test/support/suite-log.ts), then, when every test file has run, the secrecy check over all of
// it. A secret in any log line fails the run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findLeaks } from "./suite-log-scan.ts";

export function setup() {
  const dir = mkdtempSync(join(tmpdir(), "lb-suite-log-"));
  process.env.LB_SUITE_LOG_DIR = dir;
  return () => {
    const { leaks, secrets, lines } = findLeaks(dir);
    if (leaks.length > 0) {
      const shown = leaks.slice(0, 20).map((l) => `  ${l.kind} in ${l.file}: ${l.line}`).join("\n");
      // vitest reports an error thrown at teardown but keeps the run's exit code: set it. The
      // directory is kept for reading; the message says where.
      process.exitCode = 1;
      throw new Error(`secrecy of the logs: ${leaks.length} log line(s) of this run carry a secret (logs in ${dir}):\n${shown}`);
    }
    process.stdout.write(`secrecy of the logs: ${lines} log lines of this run carry none of its ${secrets} secrets\n`);
    if (process.env.LB_SUITE_LOG_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
  };
}
