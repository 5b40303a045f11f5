import cookie from "@fastify/cookie";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { hashToken } from "../crypto/hash.ts";
import { bindingMatches, createCsrf, newBinding, readBinding, setAttemptCookie } from "./attempt-cookie.ts";

describe("attempt cookie and CSRF", () => {
  it("is __Host-lb_link, Path=/, Secure in production; lb_link on /link elsewhere; HttpOnly and SameSite=Lax always", async () => {
    const app = Fastify();
    await app.register(cookie);
    app.get("/link", async (request, reply) => {
      setAttemptCookie(reply, newBinding("00000000-0000-4000-8000-000000000000").value, (request.query as { secure?: string }).secure === "1");
      return "ok";
    });
    const prod = await app.inject({ url: "/link?secure=1" });
    const header = String(prod.headers["set-cookie"]);
    expect(header).toMatch(/^__Host-lb_link=00000000-0000-4000-8000-000000000000\.[A-Za-z0-9_-]{43};/);
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Lax/);
    expect(header).toMatch(/Path=\/;/);
    expect(header).toMatch(/Secure/);
    expect(header).not.toMatch(/Domain=/i);
    const dev = String((await app.inject({ url: "/link" })).headers["set-cookie"]);
    expect(dev).toMatch(/^lb_link=.*Path=\/link/);
    expect(dev).not.toMatch(/Secure/);
    await app.close();
  });

  it("stores only a hash, and reads only well-formed values", () => {
    const binding = newBinding("00000000-0000-4000-8000-000000000001");
    expect(binding.hash).toBe(hashToken(binding.value));
    expect(bindingMatches(binding, binding.hash)).toBe(true);
    expect(bindingMatches({ ...binding, value: `${binding.value}x` }, binding.hash)).toBe(false);
    const read = (value: string) => readBinding({ cookies: { lb_link: value } } as never, false);
    expect(read(binding.value)).toEqual({ attemptId: binding.attemptId, value: binding.value });
    // In production a planted unprefixed cookie is not an attempt binding; only __Host- is read.
    expect(readBinding({ cookies: { lb_link: binding.value } } as never, true)).toBeUndefined();
    expect(readBinding({ cookies: { "__Host-lb_link": binding.value } } as never, true)).toEqual({ attemptId: binding.attemptId, value: binding.value });
    expect(readBinding({ cookies: { "__Host-lb_link": binding.value } } as never, false)).toBeUndefined();
    for (const bad of ["", "x", `${binding.attemptId}.short`, `../${binding.value}`, `${binding.value}.extra`]) expect(read(bad)).toBeUndefined();
  });

  it("binds CSRF tokens to the attempt cookie and the form", () => {
    const csrf = createCsrf(Buffer.alloc(32, 1));
    const a = newBinding("00000000-0000-4000-8000-00000000000a");
    const b = newBinding("00000000-0000-4000-8000-00000000000b");
    const token = csrf.tokenFor(a, "2fa");
    expect(csrf.check(a, "2fa", token)).toBe(true);
    expect(csrf.check(a, "consent", token)).toBe(false);
    expect(csrf.check(b, "2fa", token)).toBe(false);
    expect(csrf.check(a, "2fa", undefined)).toBe(false);
    expect(csrf.check(a, "2fa", ["x"])).toBe(false);
    expect(createCsrf(Buffer.alloc(32, 2)).check(a, "2fa", token)).toBe(false);
  });
});
