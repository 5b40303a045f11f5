import { describe, expect, it } from "vitest";
import { constantEquals, sameLengthEquals } from "./constant-equals.ts";
import { hashToken, matchesHash, randomToken } from "./hash.ts";

describe("token hashing", () => {
  it("makes 256-bit tokens and stores them as SHA-256", () => {
    const token = randomToken();
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).not.toBe(hashToken(randomToken()));
  });

  it("matches a token against its stored hash, and nothing else", () => {
    const token = randomToken();
    const stored = hashToken(token);
    expect(matchesHash(token, stored)).toBe(true);
    expect(matchesHash(`${token}x`, stored)).toBe(false);
    expect(matchesHash(token.slice(1), stored)).toBe(false);
    expect(matchesHash(token, stored.slice(2))).toBe(false);
    expect(matchesHash(token, "not hex")).toBe(false);
    expect(matchesHash("", hashToken(""))).toBe(true);
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

describe("sameLengthEquals", () => {
  it("compares by value, whatever position differs", () => {
    const secret = "s".repeat(43);
    expect(sameLengthEquals(secret, "s".repeat(43))).toBe(true);
    expect(sameLengthEquals(secret, `x${"s".repeat(42)}`)).toBe(false);
    expect(sameLengthEquals(secret, `${"s".repeat(42)}x`)).toBe(false);
    expect(sameLengthEquals(secret, "s".repeat(42))).toBe(false);
    expect(sameLengthEquals("", "")).toBe(true);
  });
});
