import { createHmac } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { constantEquals } from "../crypto/constant-equals.ts";
import { hashToken, randomToken } from "../crypto/hash.ts";
import { ATTEMPT_TTL_MS } from "./link-attempt.ts";

/**
 * The cookie that binds a link attempt to one browser: `<attemptId>.<random>`, HttpOnly,
 * SameSite=Lax (the bank IdP's redirect back is a top-level GET), Secure in production. Only the
 * hash of the whole value is stored.
 *
 * In production it is `__Host-lb_link` with `Path=/`: the browser then accepts it only from this
 * host over https, so a sibling subdomain or a plain-http response cannot plant an attempt cookie
 * (carrying an attacker's PSID) in a victim's browser; the unprefixed name is never read there.
 * Outside production (plain http on localhost, where a `__Host-` cookie cannot be set) it is
 * `lb_link` on `/link`.
 *
 * CSRF: forms carry an HMAC of the cookie value under a key derived from the master key. A
 * cross-site page cannot read the cookie, so it cannot compute the token; no server state is
 * needed and it changes with every attempt.
 */
export const ATTEMPT_COOKIE = "lb_link";
export const SECURE_ATTEMPT_COOKIE = "__Host-lb_link";

const cookieOf = (secure: boolean) => (secure ? { name: SECURE_ATTEMPT_COOKIE, path: "/" } : { name: ATTEMPT_COOKIE, path: "/link" });

export interface AttemptBinding {
  attemptId: string;
  value: string;
}

export function newBinding(attemptId: string): AttemptBinding & { hash: string } {
  const value = `${attemptId}.${randomToken()}`;
  return { attemptId, value, hash: hashToken(value) };
}

export function setAttemptCookie(reply: FastifyReply, value: string, secure: boolean) {
  const { name, path } = cookieOf(secure);
  reply.setCookie(name, value, { path, httpOnly: true, sameSite: "lax", secure, maxAge: ATTEMPT_TTL_MS / 1000 });
}

export function clearAttemptCookie(reply: FastifyReply, secure: boolean) {
  const { name, path } = cookieOf(secure);
  reply.clearCookie(name, { path, httpOnly: true, sameSite: "lax", secure });
}

export function readBinding(request: FastifyRequest, secure: boolean): AttemptBinding | undefined {
  const value = request.cookies?.[cookieOf(secure).name];
  if (!value || value.length > 200) return undefined;
  const match = /^([0-9a-f-]{36})\.[A-Za-z0-9_-]{43}$/.exec(value);
  return match ? { attemptId: match[1]!, value } : undefined;
}

export function bindingMatches(binding: AttemptBinding, bindingHash: string): boolean {
  return constantEquals(hashToken(binding.value), bindingHash);
}

export function createCsrf(masterKey: Buffer) {
  const key = createHmac("sha256", masterKey).update("link-broker csrf v1").digest();
  const tokenFor = (binding: AttemptBinding, form: string) => createHmac("sha256", key).update(`${form}\n${binding.value}`).digest("base64url");
  return {
    tokenFor,
    check(binding: AttemptBinding, form: string, token: unknown): boolean {
      return typeof token === "string" && token.length < 100 && constantEquals(tokenFor(binding, form), token);
    },
  };
}
