import { describe, expect, it } from "vitest";
import { newClientId } from "./register-service.ts";

describe("newClientId", () => {
  it("never starts with a dash, so a command line never takes it for an option", () => {
    const draws = ["-HJYVb6zpUUm95vlGI-Hez92", "-x", "HJYVb6zpUUm95vlGI-Hez92"];
    expect(newClientId(() => draws.shift()!)).toBe("HJYVb6zpUUm95vlGI-Hez92");
    expect(draws).toEqual([]);
  });

  it("is 18 random bytes in base64url, a new one each time", () => {
    const ids = Array.from({ length: 500 }, () => newClientId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{23}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
