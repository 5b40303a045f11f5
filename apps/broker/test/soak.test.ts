import { describe, expect, it } from "vitest";
import { runSoak } from "./soak/soak.ts";

// The 60-second soak (the 10-minute one is `pnpm soak`): mixed linking, exchanges, refreshes,
// checks, unlinks and withdrawals with no error, and a ledger that verifies afterwards.
describe.runIf(process.env.DATABASE_URL)("soak", () => {
  it("60 s of mixed traffic: no errors, the ledger verifies", async () => {
    const report = await runSoak({ durationMs: 60_000, periodMs: 20_000 });
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.byOperation.link).toBeGreaterThan(0);
    expect(report.byOperation.unlink).toBeGreaterThan(0);
    expect(report.byOperation.withdraw).toBeGreaterThan(0);
    expect(report.ledger.ok).toBe(true);
    expect(report.ledger.checked).toBeGreaterThan(0);
  }, 180_000);
});
