import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.ts";
import { hashToken, randomToken } from "../crypto/hash.ts";
import { LOCK_MS, MAX_FAILURES, type TotpService } from "../linking/totp-service.ts";
import { decoyHash, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./password.ts";
import type { Staff, StaffRepo, StaffRole, StaffSessionRepo } from "./staff-repo.ts";

/** Staff second factors live beside customers' under this client id; registered ids never contain ':'. */
export const STAFF_FACTOR_CLIENT = "console:staff";
export const SESSION_IDLE_MS = 15 * 60_000;
export const SESSION_ABSOLUTE_MS = 8 * 60 * 60_000;
export const ROLES: readonly StaffRole[] = ["auditor", "admin"];

export interface StaffSessionView {
  idHash: string;
  staff: Staff;
  /** false until the second factor passes: only the TOTP step is open. */
  complete: boolean;
  expiresAt: Date;
}

export type SignInOutcome = { ok: true; cookie: string; staff: Staff } | { ok: false; reason: "invalid"; staff?: Staff } | { ok: false; reason: "locked"; staff: Staff; lockedUntil: Date };

export interface StaffServiceDeps {
  staff: Pick<StaffRepo, "create" | "findByEmail" | "findById" | "disable" | "recordPasswordFailure" | "lock" | "clearFailures" | "resetFactor" | "list" | "setPassword">;
  sessions: Pick<StaffSessionRepo, "create" | "touch" | "passSecondFactor" | "end" | "purgeExpired">;
  totp: TotpService;
  clock: Clock;
  /** scrypt cost for new passwords (tests lower it). */
  passwordParams?: { N: number; r: number; p: number };
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;

/**
 * Staff identity: a password (scrypt), then TOTP at every sign-in with the customers' rules
 * (±1 step, each step once, 5 failures lock for 15 minutes); wrong passwords lock the same way.
 * Sessions are server-side: 15 minutes idle, 8 hours at most.
 */
export function createStaffService(deps: StaffServiceDeps) {
  const { staff, sessions, totp, clock } = deps;

  return {
    normalizeEmail(email: string): string | undefined {
      const e = email.trim().toLowerCase();
      return EMAIL.test(e) ? e : undefined;
    },

    /** A new staff member with a one-time password, shown once: the first sign-in must replace it. */
    async create(email: string, role: StaffRole): Promise<{ staff: Staff; password: string }> {
      const normalized = this.normalizeEmail(email);
      if (!normalized) throw new Error("--email must be an email address");
      if (!ROLES.includes(role)) throw new Error("--role must be auditor or admin");
      if (await staff.findByEmail(normalized)) throw new Error(`staff member ${normalized} already exists`);
      const password = randomToken(18);
      const row = await staff.create({ id: randomUUID(), email: normalized, passwordHash: await hashPassword(password, deps.passwordParams), role, passwordChangeRequired: true, createdAt: clock.now() });
      return { staff: row, password };
    },

    async byEmail(email: string): Promise<Staff | null> {
      const normalized = this.normalizeEmail(email);
      return normalized ? staff.findByEmail(normalized) : null;
    },

    disable: (id: string) => staff.disable(id, clock.now()),
    /** The next sign-in enrols a new factor; every session ends. */
    resetTotp: (id: string) => staff.resetFactor(id, STAFF_FACTOR_CLIENT),
    list: () => staff.list(),

    /** Password step: answers a pending session (the TOTP step comes next). */
    async signIn(email: string, password: string): Promise<SignInOutcome> {
      const member = await this.byEmail(email);
      if (!member || member.disabledAt) {
        await verifyPassword(password, await decoyHash()); // same cost as a real check
        return { ok: false, reason: "invalid", ...(member ? { staff: member } : {}) };
      }
      const now = clock.now();
      if (member.lockedUntil && member.lockedUntil > now) return { ok: false, reason: "locked", staff: member, lockedUntil: member.lockedUntil };
      if (!(await verifyPassword(password, member.passwordHash))) {
        const failures = await staff.recordPasswordFailure(member.id);
        if (failures >= MAX_FAILURES) {
          const lockedUntil = new Date(now.getTime() + LOCK_MS);
          await staff.lock(member.id, lockedUntil);
          return { ok: false, reason: "locked", staff: member, lockedUntil };
        }
        return { ok: false, reason: "invalid", staff: member };
      }
      await staff.clearFailures(member.id);
      // Sign-ins are rare: they also clear sessions past their expiry (no periodic task needed).
      await sessions.purgeExpired(now, SESSION_IDLE_MS);
      const cookie = randomToken();
      await sessions.create({ idHash: hashToken(cookie), staffId: member.id, expiresAt: new Date(now.getTime() + SESSION_ABSOLUTE_MS), lastSeenAt: now, createdAt: now });
      return { ok: true, cookie, staff: member };
    },

    /** The session behind a cookie, if it is live and its staff member enabled; extends its idle time. */
    async authenticate(cookie: string | undefined): Promise<StaffSessionView | undefined> {
      if (!cookie || cookie.length > 100) return undefined;
      const s = await sessions.touch(hashToken(cookie), clock.now(), SESSION_IDLE_MS);
      return s ? { idHash: s.idHash, staff: s.staff, complete: s.secondFactorAt !== null, expiresAt: s.expiresAt } : undefined;
    },

    factorStatus: (staffId: string) => totp.status(STAFF_FACTOR_CLIENT, staffId),
    /** One secret per sign-in session: a reload shows the same one, a new sign-in replaces an unconfirmed one. */
    enrol: (session: StaffSessionView, issuer: string) => totp.enrol(STAFF_FACTOR_CLIENT, session.staff.id, `staff-session:${session.idHash}`, { issuer, account: session.staff.email }),

    /** TOTP step: on success the pending session becomes a full one. */
    async secondFactor(session: StaffSessionView, code: string) {
      const outcome = await totp.verify(STAFF_FACTOR_CLIENT, session.staff.id, code);
      if (outcome.ok && !(await sessions.passSecondFactor(session.idHash, clock.now()))) return { ok: false as const, reason: "invalid" as const, failures: 0 };
      return outcome;
    },

    signOut: (session: Pick<StaffSessionView, "idHash">) => sessions.end(session.idHash),

    /** Replaces the password of a signed-in staff member (the one-time one at first sign-in). */
    async changePassword(member: Staff, current: string, next: string, confirm: string): Promise<{ ok: true } | { ok: false; message: string }> {
      if (!(await verifyPassword(current, member.passwordHash))) return { ok: false, message: "The current password is not right." };
      if (next.length < MIN_PASSWORD_LENGTH || next.length > 200) return { ok: false, message: `Choose a password of ${MIN_PASSWORD_LENGTH} to 200 characters.` };
      if (next !== confirm) return { ok: false, message: "The two new passwords differ." };
      if (next === current) return { ok: false, message: "Choose a password other than the current one." };
      await staff.setPassword(member.id, await hashPassword(next, deps.passwordParams));
      return { ok: true };
    },
  };
}
export type StaffService = ReturnType<typeof createStaffService>;
