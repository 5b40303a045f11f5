// The console's cookies and CSRF tokens. The session cookie holds a random value (only its hash
// is stored); forms carry an HMAC of that value, which a cross-site page cannot compute.
import { createHmac } from "node:crypto";
import { fastifyCookie } from "@fastify/cookie";
import type { FastifyReply, FastifyRequest } from "fastify";
import { constantEquals } from "../crypto/constant-equals.ts";
import { randomToken } from "../crypto/hash.ts";
import { SESSION_ABSOLUTE_MS } from "./staff-service.ts";

export interface ConsoleCookies {
  session: string;
  /** Binds the sign-in form's CSRF token before any session exists. */
  login: string;
  secure: boolean;
}

/** `__Host-` names (Secure, path /, no domain) in production; plain names on http:// in development. */
export function consoleCookies(production: boolean): ConsoleCookies {
  return production ? { session: "__Host-lb_staff", login: "__Host-lb_staff_login", secure: true } : { session: "lb_staff", login: "lb_staff_login", secure: false };
}

/** Reads one cookie without the cookie plugin (the ledger routes take a staff session too). */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  const value = fastifyCookie.parse(header)[name];
  return value && /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
}

export function setSessionCookie(reply: FastifyReply, cookies: ConsoleCookies, value: string) {
  reply.header("set-cookie", fastifyCookie.serialize(cookies.session, value, { path: "/", httpOnly: true, sameSite: "strict", secure: cookies.secure, maxAge: SESSION_ABSOLUTE_MS / 1000 }));
}

export function clearSessionCookie(reply: FastifyReply, cookies: ConsoleCookies) {
  reply.header("set-cookie", fastifyCookie.serialize(cookies.session, "", { path: "/", httpOnly: true, sameSite: "strict", secure: cookies.secure, maxAge: 0 }));
}

/** The sign-in form's binding cookie: the existing one, or a new one set on the reply. */
export function loginBinding(request: FastifyRequest, reply: FastifyReply, cookies: ConsoleCookies): string {
  const existing = readCookie(request, cookies.login);
  if (existing) return existing;
  const value = randomToken();
  reply.header("set-cookie", fastifyCookie.serialize(cookies.login, value, { path: "/", httpOnly: true, sameSite: "strict", secure: cookies.secure, maxAge: 3600 }));
  return value;
}

export function createConsoleCsrf(masterKey: Buffer) {
  const key = createHmac("sha256", masterKey).update("link-broker console csrf v1").digest();
  const tokenFor = (binding: string, form: string) => createHmac("sha256", key).update(`${form}\n${binding}`).digest("base64url");
  return {
    tokenFor,
    check: (binding: string | undefined, form: string, token: unknown) => !!binding && typeof token === "string" && token.length < 100 && constantEquals(tokenFor(binding, form), token),
  };
}
export type ConsoleCsrf = ReturnType<typeof createConsoleCsrf>;
