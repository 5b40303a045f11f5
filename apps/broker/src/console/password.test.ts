import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "./password.ts";

const FAST = { N: 2 ** 10, r: 8, p: 1 };

describe("staff passwords", () => {
  it("verifies the right password and refuses others", async () => {
    const stored = await hashPassword("correct horse battery", FAST);
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPassword("correct horse battery", stored)).toBe(true);
    expect(await verifyPassword("correct horse batterY", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("salts every hash", async () => {
    expect(await hashPassword("same password!", FAST)).not.toBe(await hashPassword("same password!", FAST));
  });

  it("never matches a malformed stored hash", async () => {
    for (const bad of ["", "x", "bcrypt$1$2$3$4$5", "scrypt$abc$8$1$c2FsdA$a2V5", "scrypt$1024$8$1$$"]) expect(await verifyPassword("pw", bad)).toBe(false);
  });
});
