import { describe, expect, it } from "vitest";
import { effectiveState, transition } from "./consent-state.ts";

describe("consent state machine", () => {
  const at = new Date("2026-03-01T00:00:00Z");
  it("derives the effective state: active past its expiry is expired", () => {
    expect(effectiveState("active", new Date("2026-03-02T00:00:00Z"), at)).toBe("active");
    expect(effectiveState("active", at, at)).toBe("expired");
    expect(effectiveState("withdrawn", new Date("2027-01-01T00:00:00Z"), at)).toBe("withdrawn");
  });
  it("allows only the transitions of the diagram", () => {
    expect(transition("active", "withdraw")).toEqual({ kind: "append", action: "withdrawn", next: "withdrawn" });
    expect(transition("withdrawn", "withdraw")).toMatchObject({ kind: "noop", reason: "already withdrawn" });
    expect(transition("expired", "withdraw")).toMatchObject({ kind: "noop" });
    expect(transition("active", "renew")).toMatchObject({ kind: "append", action: "renewed" });
    expect(transition("withdrawn", "renew")).toMatchObject({ kind: "refuse" });
    expect(transition("expired", "renew")).toMatchObject({ kind: "refuse" });
    expect(transition("active", "expire")).toMatchObject({ kind: "append", action: "expired" });
    expect(transition("expired", "expire")).toMatchObject({ kind: "noop" });
    expect(transition("withdrawn", "expire")).toMatchObject({ kind: "noop" });
  });
});
