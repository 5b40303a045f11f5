import { describe, expect, it } from "vitest";
import { csvField } from "./export.ts";

describe("CSV fields", () => {
  it("neutralise values a spreadsheet would run as a formula with a leading quote", () => {
    for (const v of ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]) expect(csvField(v)).toBe(`"'${v.replace(/"/g, '""')}"`);
    expect(csvField(["=a", "b"])).toBe(`"'=a b"`);
    expect(csvField({ note: "=1" })).toBe(`"{""note"":""=1""}"`);
  });
  it("leave other values as they are, quoted as RFC 4180 says", () => {
    expect(csvField("cust-1")).toBe(`"cust-1"`);
    expect(csvField('say "hi"')).toBe(`"say ""hi"""`);
    expect(csvField("a=b")).toBe(`"a=b"`);
    expect(csvField(null)).toBe(`""`);
    expect(csvField(42)).toBe(`"42"`);
  });
});
