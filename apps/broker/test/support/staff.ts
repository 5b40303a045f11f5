// Staff accounts and console sign-in for tests, through the real routes (app.inject).
import { randomUUID } from "node:crypto";
import type { Db, StaffRole } from "@link-broker/db";
import type { FastifyInstance } from "fastify";
import { generate } from "otplib";
import { hashPassword } from "../../src/console/password.ts";

/** A cheap scrypt cost for tests; verification reads the cost from the stored hash. */
const FAST = { N: 2 ** 10, r: 8, p: 1 };

export async function createStaff(db: Db, email: string, role: StaffRole, password = "correct horse battery staple", options: { passwordChangeRequired?: boolean } = {}) {
  return db.prisma.staff.create({ data: { id: randomUUID(), email, role, passwordHash: await hashPassword(password, FAST), passwordChangeRequired: options.passwordChangeRequired ?? false } });
}

export const csrfOf = (html: string, action?: string): string => {
  const form = action ? html.slice(html.indexOf(`action="${action}"`)) : html;
  const match = /name="csrf" value="([^"]+)"/.exec(form);
  if (!match) throw new Error(`no csrf field${action ? ` in the form for ${action}` : ""}`);
  return match[1]!;
};

export function cookiesOf(res: { headers: Record<string, unknown> }): Record<string, string> {
  const raw = res.headers["set-cookie"];
  const lines = Array.isArray(raw) ? raw : raw ? [String(raw)] : [];
  return Object.fromEntries(lines.map((l: string) => l.split(";")[0]!.split("=") as [string, string]));
}

const form = (fields: Record<string, string>) => ({ "content-type": "application/x-www-form-urlencoded", payload: new URLSearchParams(fields).toString() });

export async function totpAt(secret: string, at: Date, offsetSteps = 0) {
  return generate({ secret, epoch: Math.floor(at.getTime() / 1000) + offsetSteps * 30 });
}

/** The password step: answers the response and the pending session cookie, if one was set. */
export async function passwordStep(app: FastifyInstance, email: string, password: string) {
  const page = await app.inject({ url: "/console/login" });
  const login = cookiesOf(page).lb_staff_login!;
  const { "content-type": ct, payload } = form({ email, password, csrf: csrfOf(page.body) });
  const res = await app.inject({ method: "POST", url: "/console/login", headers: { "content-type": ct, cookie: `lb_staff_login=${login}` }, payload });
  return { res, session: cookiesOf(res).lb_staff };
}

/** Posts a code; `csrf` from a page already shown (each enrolment page view makes a new secret). */
export async function submitCode(app: FastifyInstance, session: string, code: string, csrf?: string) {
  const token = csrf ?? csrfOf((await app.inject({ url: "/console/login/totp", headers: { cookie: `lb_staff=${session}` } })).body);
  const { "content-type": ct, payload } = form({ code, csrf: token });
  return { res: await app.inject({ method: "POST", url: "/console/login/totp", headers: { "content-type": ct, cookie: `lb_staff=${session}` }, payload }) };
}

export function otpauthSecret(html: string): string | undefined {
  const uri = /data-testid="otpauth">(otpauth:\/\/[^<]+)</.exec(html)?.[1];
  return uri ? (new URL(uri.replace(/&amp;/g, "&")).searchParams.get("secret") ?? undefined) : undefined;
}

/**
 * Full sign-in: password, then TOTP (enrolling on first sign-in). `secret` is the factor from an
 * earlier sign-in; `step` picks the code's time step relative to `now` (each step works once).
 */
export async function signIn(app: FastifyInstance, email: string, options: { password?: string; secret?: string; now?: Date; step?: number } = {}) {
  const { session } = await passwordStep(app, email, options.password ?? "correct horse battery staple");
  if (!session) throw new Error("password step failed");
  const totpPage = await app.inject({ url: "/console/login/totp", headers: { cookie: `lb_staff=${session}` } });
  const secret = options.secret ?? otpauthSecret(totpPage.body);
  if (!secret) throw new Error("no factor to use");
  const { res } = await submitCode(app, session, await totpAt(secret, options.now ?? new Date(), options.step ?? 0), csrfOf(totpPage.body));
  if (res.statusCode !== 303 || !String(res.headers.location).startsWith("/console")) throw new Error(`TOTP step failed: ${res.statusCode}`);
  return { cookie: `lb_staff=${session}`, session, secret };
}

export const postForm = (app: FastifyInstance, url: string, cookie: string, fields: Record<string, string>) => {
  const { "content-type": ct, payload } = form(fields);
  return app.inject({ method: "POST", url, headers: { "content-type": ct, cookie }, payload });
};
