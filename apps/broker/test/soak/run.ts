// `pnpm soak [minutes]` (default 10): the soak by hand. Prints the figures per minute and exits
// non-zero on any error or a ledger that does not verify. Set DATABASE_URL to soak on Postgres
// (each run makes and drops its own database); without it, on in-memory PGlite.
import { runSoak } from "./soak.ts";

const minutes = Number(process.argv[2] ?? 10);
if (!(minutes > 0)) {
  process.stderr.write("usage: pnpm soak [minutes]\n");
  process.exit(2);
}
process.stdout.write(`soaking for ${minutes} min on ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}...\n`);
const report = await runSoak({ durationMs: minutes * 60_000, log: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(report.errors === 0 && report.ledger.ok ? 0 : 1);
