// The canonical form must be RFC 8785 (JCS) exactly, or an auditor's own JCS library would compute
// other hashes. The `canonicalize` package (JCS by one of RFC 8785's authors) is the oracle, on
// fixed edge cases and on generated JSON values.
import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, hashedFields } from "./hash-chain.ts";

describe("canonical JSON is RFC 8785 (JCS)", () => {
  it("matches the oracle on the RFC's hard cases", () => {
    const cases: unknown[] = [
      { numbers: [Number("333333333.33333329"), 1e30, 4.5, 2e-3, 0.000001, 1e-7, 1e21, 1e20, -0, 0, -1.5, Number("9007199254740993")] },
      { string: "€$\u000f\u000aA'\u0042\u0022\u005c\\\"/", emoji: "😀", control: "\u0000\u001f\u007f\u2028\u2029" },
      { "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis" },
      { literals: [null, true, false], nested: { b: [{ z: 1, a: 2 }], a: {} }, empty: [] },
    ];
    for (const c of cases) expect(canonicalJson(c)).toBe(canonicalize(c));
  });

  it("matches the oracle on generated JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(canonicalJson(v)).toBe(canonicalize(v));
      }),
      { numRuns: 2_000 },
    );
  });

  it("matches the oracle on the hashed fields of generated entries", () => {
    const entry = fc.record({
      seq: fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
      consentId: fc.string(),
      action: fc.constantFrom("granted", "renewed", "withdrawn", "expired"),
      clientId: fc.string(),
      subject: fc.fullUnicodeString(),
      linkId: fc.option(fc.string(), { nil: null }),
      psid: fc.option(fc.string(), { nil: null }),
      scopes: fc.array(fc.string()),
      purposes: fc.array(fc.string()),
      expiresAt: fc.date({ min: new Date(0), max: new Date("9999-12-31T23:59:59.999Z"), noInvalidDate: true }),
      actor: fc.string(),
      evidence: fc.dictionary(fc.fullUnicodeString(), fc.jsonValue()),
      recordedAt: fc.date({ min: new Date(0), max: new Date("9999-12-31T23:59:59.999Z"), noInvalidDate: true }),
    });
    fc.assert(
      fc.property(entry, (e) => {
        // The oracle gets what the format says is canonicalised: seq as a string, dates as ISO.
        const fields = hashedFields(e);
        const plain = { ...fields, expires_at: fields.expires_at.toISOString(), recorded_at: fields.recorded_at.toISOString() };
        expect(canonicalJson(fields)).toBe(canonicalize(plain));
      }),
      { numRuns: 500 },
    );
  });
});
