import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createAuthenticator, currentCode, InvalidSecretError, parseSecretInput } from "./authenticator.ts";

// RFC 6238 appendix B, SHA-1: the ASCII secret "12345678901234567890" in base32.
const RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

describe("demo authenticator", () => {
  it("computes RFC 6238 codes (SHA-1, 6 digits, 30 s)", () => {
    expect(currentCode(RFC_SECRET, 59_000).code).toBe("287082");
    expect(currentCode(RFC_SECRET, 1111111109_000).code).toBe("081804");
    expect(currentCode(RFC_SECRET, 59_000).secondsLeft).toBe(1);
  });

  it("reads an otpauth:// URI or a bare secret typed with spaces", () => {
    expect(parseSecretInput(`otpauth://totp/link-broker:Ada%20Lovelace?secret=${RFC_SECRET}&issuer=link-broker`)).toEqual({
      label: "link-broker:Ada Lovelace",
      secret: RFC_SECRET,
    });
    expect(parseSecretInput("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").secret).toBe(RFC_SECRET);
    expect(() => parseSecretInput("not a secret!")).toThrow(InvalidSecretError);
    expect(() => parseSecretInput("otpauth://hotp/x?secret=" + RFC_SECRET)).toThrow(InvalidSecretError);
  });

  it("keeps enrolled accounts across restarts and replaces a re-enrolled one", () => {
    const dir = mkdtempSync(join(tmpdir(), "sandbox-auth-"));
    const now = () => 59_000;
    const a = createAuthenticator(dir, now);
    a.add(`otpauth://totp/Bank:ada?secret=${RFC_SECRET}`);
    expect(a.codes()).toEqual([{ label: "Bank:ada", code: "287082", secondsLeft: 1 }]);
    const b = createAuthenticator(dir, now);
    expect(b.codes()).toHaveLength(1);
    b.add(`otpauth://totp/Bank:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP`);
    expect(b.codes()).toHaveLength(1);
    expect(b.codes()[0]!.code).not.toBe("287082");
  });
});
