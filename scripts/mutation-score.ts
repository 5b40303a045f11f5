// Mutation scores per directory from a StrykerJS JSON report (reports/mutation/<scope>.json):
//   pnpm mutation:score oauth-auth [--survivors]
//   pnpm mutation:score oauth-auth-without-authorization-checks   (a `pnpm mutation --without` run)
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

interface Mutant {
  id: string;
  status: string;
  killedBy?: string[];
  coveredBy?: string[];
  location: { start: { line: number } };
  mutatorName: string;
  replacement?: string;
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
  testFiles?: Record<string, { tests: { id: string; name: string }[] }>;
}

const args = process.argv.slice(2);
const scope = args[0];
if (!scope) {
  process.stderr.write("usage: pnpm mutation:score <report name> [--survivors]\n");
  process.exit(2);
}
const root = resolve(import.meta.dirname, "..");
const report = JSON.parse(readFileSync(join(root, "reports", "mutation", `${scope}.json`), "utf8")) as Report;

const statusOf = (m: Mutant) => m.status;

const byDir = new Map<string, Record<string, number>>();
const survivors: string[] = [];
for (const [file, { mutants }] of Object.entries(report.files)) {
  const dir = dirname(file);
  const counts = byDir.get(dir) ?? {};
  for (const m of mutants) {
    const s = statusOf(m);
    counts[s] = (counts[s] ?? 0) + 1;
    if (s === "Survived" || s === "NoCoverage") survivors.push(`${file}:${m.location.start.line} ${s} ${m.mutatorName} ${JSON.stringify(m.replacement ?? "").slice(0, 80)}`);
  }
  byDir.set(dir, counts);
}

const score = (c: Record<string, number>) => {
  const detected = (c.Killed ?? 0) + (c.Timeout ?? 0);
  const valid = detected + (c.Survived ?? 0) + (c.NoCoverage ?? 0);
  return valid === 0 ? "n/a" : `${((100 * detected) / valid).toFixed(1)}%`;
};
const total: Record<string, number> = {};
process.stdout.write(`${scope}\n| directory | score | killed | timeout | survived | no coverage | ignored/errors |\n| --- | --- | --- | --- | --- | --- | --- |\n`);
for (const [dir, c] of [...byDir].sort()) {
  for (const [k, v] of Object.entries(c)) total[k] = (total[k] ?? 0) + v;
  const other = Object.entries(c).filter(([k]) => !["Killed", "Timeout", "Survived", "NoCoverage"].includes(k)).reduce((a, [, v]) => a + v, 0);
  process.stdout.write(`| ${dir} | ${score(c)} | ${c.Killed ?? 0} | ${c.Timeout ?? 0} | ${c.Survived ?? 0} | ${c.NoCoverage ?? 0} | ${other} |\n`);
}
process.stdout.write(`| all | ${score(total)} | ${total.Killed ?? 0} | ${total.Timeout ?? 0} | ${total.Survived ?? 0} | ${total.NoCoverage ?? 0} | |\n`);
if (args.includes("--survivors")) process.stdout.write(`\n${survivors.join("\n")}\n`);
