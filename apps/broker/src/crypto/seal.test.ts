import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSealer, keyIdOf, UnsealError } from "./seal.ts";

const key = (bytes = randomBytes(32)) => ({ kid: keyIdOf(bytes), key: bytes });

describe("sealing", () => {
  it("round-trips and never shows the plaintext", () => {
    const sealer = createSealer(key());
    const sealed = sealer.seal("JBSWY3DPEHPK3PXP", "totp:1");
    expect(sealed).not.toContain("JBSWY3DPEHPK3PXP");
    expect(sealed.split(".")[1]).toBe(sealer.kid);
    expect(sealer.unseal(sealed, "totp:1")).toBe("JBSWY3DPEHPK3PXP");
  });

  it("uses a fresh IV each time", () => {
    const sealer = createSealer(key());
    expect(sealer.seal("x", "c")).not.toBe(sealer.seal("x", "c"));
  });

  it("rejects tampered ciphertext, IV and tag", () => {
    const sealer = createSealer(key());
    const parts = sealer.seal("secret value", "c").split(".");
    for (const i of [2, 3, 4]) {
      const copy = [...parts];
      const bytes = Buffer.from(copy[i]!, "base64url");
      bytes[0] = bytes[0]! ^ 1;
      copy[i] = bytes.toString("base64url");
      expect(() => sealer.unseal(copy.join("."), "c")).toThrow(UnsealError);
    }
  });

  it("rejects a value sealed under another key, even with a forged key id", () => {
    const a = createSealer(key());
    const b = createSealer(key());
    const sealed = a.seal("secret", "c");
    expect(() => b.unseal(sealed, "c")).toThrow(/unknown key/);
    const forged = sealed.split(".");
    forged[1] = b.kid;
    expect(() => b.unseal(forged.join("."), "c")).toThrow(/failed authentication/);
  });

  it("rejects a value moved to another context", () => {
    const sealer = createSealer(key());
    expect(() => sealer.unseal(sealer.seal("secret", "client:a:app_secret"), "client:b:app_secret")).toThrow(UnsealError);
  });

  it("opens values sealed under a previous key after rotation", () => {
    const old = key();
    const sealed = createSealer(old).seal("kept", "c");
    const rotated = createSealer(key(), [old]);
    expect(rotated.unseal(sealed, "c")).toBe("kept");
    expect(rotated.seal("new", "c").split(".")[1]).toBe(rotated.kid);
  });

  it("rejects garbage", () => {
    const sealer = createSealer(key());
    for (const bad of ["", "v1", "v2.a.b.c.d", "v1.x.y.z"]) expect(() => sealer.unseal(bad, "c")).toThrow(UnsealError);
  });
});
