// The final secrecy check of a test run (test/support/suite-log.ts writes what it reads): no
// secret recorded during the run appears in any log line of the run.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Leak {
  kind: string;
  file: string;
  line: string;
}

/**
 * What identifies a secret in a log line: its runs of base64url characters of 12 or more (a JWT
 * only by its signature, as its header is shared by every token of the same kind).
 */
export function fingerprints(secret: string): string[] {
  const jwt = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(secret);
  const parts = (jwt ? [secret.split(".")[2]!] : secret.split(/[^A-Za-z0-9_-]+/)).filter((p) => p.length >= 12);
  return parts;
}

const RUN = /[A-Za-z0-9_-]{12,}/g;

/** Every secret recorded in `dir` that appears in a log line written to `dir`. */
export function findLeaks(dir: string): { leaks: Leak[]; secrets: number; lines: number } {
  const names = readdirSync(dir);
  const byPrint = new Map<string, string>();
  for (const name of names.filter((n) => n.startsWith("secrets-"))) {
    for (const row of readFileSync(join(dir, name), "utf8").split("\n")) {
      const tab = row.indexOf("\t");
      if (tab < 0) continue;
      for (const p of fingerprints(row.slice(tab + 1))) byPrint.set(p, row.slice(0, tab));
    }
  }
  const leaks: Leak[] = [];
  let lines = 0;
  for (const name of names.filter((n) => n.startsWith("log-"))) {
    for (const line of readFileSync(join(dir, name), "utf8").split("\n")) {
      if (!line) continue;
      lines++;
      for (const [run] of line.matchAll(RUN)) {
        const kind = byPrint.get(run);
        if (kind) {
          leaks.push({ kind, file: name, line: line.replaceAll(run, `<${kind}>`).slice(0, 400) });
          break;
        }
      }
    }
  }
  return { leaks, secrets: byPrint.size, lines };
}
