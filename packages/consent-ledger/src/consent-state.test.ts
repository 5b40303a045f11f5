import { describe, expect, it } from "vitest";
import { effectiveState, statusAfter, transition } from "./consent-state.ts";

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
  it("keeps a recorded end whatever the expiry says: expired stays expired, withdrawn stays withdrawn", () => {
    const later = new Date("2027-01-01T00:00:00Z");
    expect(effectiveState("expired", later, at)).toBe("expired");
    expect(effectiveState("withdrawn", at, at)).toBe("withdrawn");
    expect(effectiveState("active", new Date(at.getTime() + 1), at)).toBe("active");
  });
  it("says why a withdrawal changed nothing: already withdrawn, or already expired", () => {
    expect(transition("withdrawn", "withdraw")).toEqual({ kind: "noop", reason: "already withdrawn" });
    expect(transition("expired", "withdraw")).toEqual({ kind: "noop", reason: "already expired" });
    expect(transition("active", "renew")).toEqual({ kind: "append", action: "renewed", next: "active" });
    expect(transition("active", "expire")).toEqual({ kind: "append", action: "expired", next: "expired" });
  });
  it("projects each entry's action to the status it leaves", () => {
    expect(statusAfter("granted")).toBe("active");
    expect(statusAfter("renewed")).toBe("active");
    expect(statusAfter("withdrawn")).toBe("withdrawn");
    expect(statusAfter("expired")).toBe("expired");
  });
});
