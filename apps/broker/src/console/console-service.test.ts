import { describe, expect, it } from "vitest";
import { csvCell } from "./console-service.ts";

describe("csvCell", () => {
  it("quotes every cell and doubles quotes (RFC 4180)", () => {
    expect(csvCell('say "hi", ok')).toBe('"say ""hi"", ok"');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(["balance:read", "alerts:fraud"])).toBe('"balance:read alerts:fraud"');
  });

  it("defuses cells a spreadsheet would run as a formula", () => {
    for (const v of ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]) expect(csvCell(v).startsWith(`"'`)).toBe(true);
    expect(csvCell("cust-1")).toBe('"cust-1"');
  });
});
