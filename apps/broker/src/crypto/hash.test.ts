import { describe, expect, it } from "vitest";
import { constantEquals } from "./constant-equals.ts";
import { hashToken, randomToken } from "./hash.ts";

describe("token hashing", () => {
  it("makes 256-bit tokens and stores them as SHA-256", () => {
    const token = randomToken();
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).not.toBe(hashToken(randomToken()));
  });
});

describe("constantEquals", () => {
  it("compares by value", () => {
    expect(constantEquals("abc", "abc")).toBe(true);
    expect(constantEquals("abc", "abd")).toBe(false);
    expect(constantEquals("abc", "abcd")).toBe(false);
    expect(constantEquals("", "")).toBe(true);
  });
});
