import { randomInt, randomUUID } from "node:crypto";
import { generateSecret, generateURI, verify } from "otplib";
import type { Clock } from "../clock.ts";
import { hashToken } from "../crypto/hash.ts";
import type { Sealer } from "../crypto/seal.ts";
import type { TotpFactor } from "@link-broker/db";
import type { TotpRepo } from "./totp-repo.ts";

/**
 * The customer's second factor: RFC 6238 TOTP (SHA-1, 6 digits, 30 s), one factor per
 * (bank client, bank customer `sub`). A code is accepted within ±1 step, each time step at most
 * once, and 5 failures in a row lock the factor for 15 minutes.
 */
export const TOTP_PERIOD = 30;
export const MAX_FAILURES = 5;
export const LOCK_MS = 15 * 60_000;

export const totpSecretContext = (factorId: string) => `totp_factor:${factorId}:secret`;

/** Recovery codes per enrolment: 16 characters of Crockford base32 each (80 bits), as XXXX-XXXX-XXXX-XXXX. */
export const RECOVERY_CODES = 10;
const RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RECOVERY_SHAPE = /^[0-9A-HJKMNP-TV-Z]{16}$/;

function newRecoveryCode(): string {
  let code = "";
  for (let i = 0; i < 16; i++) code += RECOVERY_ALPHABET[randomInt(32)];
  return code.replace(/(.{4})(?=.)/g, "$1-");
}

/** What the customer typed, as the code it may be: upper case, without spaces and dashes. */
const normalizeRecoveryCode = (input: string) => input.toUpperCase().replace(/[\s-]+/g, "");
/** Stored hash; the factor id is part of it, so one code's hash is worthless for another factor. */
const recoveryCodeHash = (factorId: string, code: string) => hashToken(`${factorId}:${code}`);

export interface Enrolment {
  factorId: string;
  otpauthUri: string;
  qrDataUrl: string;
  /** Shown once, beside the QR code; only their hashes are kept. */
  recoveryCodes: string[];
}

export type VerifyOutcome =
  | { ok: true; step: number; at: Date; method: "totp" }
  | { ok: true; at: Date; method: "recovery_code"; remaining: number }
  | { ok: false; reason: "invalid" | "replayed"; failures: number }
  | { ok: false; reason: "locked"; lockedUntil: Date }
  | { ok: false; reason: "not_enrolled" };

export interface TotpServiceDeps {
  repo: Pick<TotpRepo, "find" | "createPending" | "replacePending" | "useStep" | "claimTry" | "clearFailures" | "lockSpent" | "replaceRecoveryCodes" | "useRecoveryCode" | "unusedRecoveryCodes">;
  sealer: Sealer;
  clock: Clock;
}

export function createTotpService({ repo, sealer, clock }: TotpServiceDeps) {
  return {
    /**
     * Whether the customer has a confirmed factor (else the page enrols one), and any lock.
     * `factor`: the row as read, for an `enrol` that follows at once (it need not read it again).
     */
    async status(clientId: string, subject: string): Promise<{ state: "enrolled" | "pending" | "none"; lockedUntil?: Date; factor: TotpFactor | null }> {
      const factor = await repo.find(clientId, subject);
      if (!factor) return { state: "none", factor };
      const lockedUntil = factor.lockedUntil && factor.lockedUntil > clock.now() ? factor.lockedUntil : undefined;
      return { state: factor.confirmedAt ? "enrolled" : "pending", lockedUntil, factor };
    },

    /**
     * The enrolment secret of this link attempt, shown as a QR code and as text. An attempt makes
     * one secret (the first time its page is shown) and shows that same one on every reload; a
     * new attempt replaces a secret that was never confirmed. Recovery codes come with each view.
     * `current`: the factor as the caller just read it (status()), so the first round reads nothing.
     */
    async enrol(clientId: string, subject: string, attemptId: string, labels: { issuer: string; account: string }, current?: TotpFactor | null): Promise<Enrolment> {
      // Recovery codes are kept only as hashes, so each view of the page issues a new set (the
      // factor is unconfirmed, so the set it replaces never worked): the newest set shown is the valid one.
      const newCodes = (factorId: string) => {
        const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
        return { codes, rows: codes.map((code) => ({ id: randomUUID(), codeHash: recoveryCodeHash(factorId, normalizeRecoveryCode(code)) })) };
      };
      const replaceCodes = async (factorId: string) => {
        const fresh = newCodes(factorId);
        await repo.replaceRecoveryCodes(factorId, fresh.rows);
        return fresh.codes;
      };
      /** `stored`: the codes the factor was just created with; else a new set replaces the old. */
      const render = async (factorId: string, secret: string, stored?: string[]): Promise<Enrolment> => {
        const recoveryCodes = stored ?? (await replaceCodes(factorId));
        const otpauthUri = generateURI({ issuer: labels.issuer, label: labels.account, secret, algorithm: "sha1", digits: 6, period: TOTP_PERIOD });
        // SVG, not PNG: the same code drawn without PNG filtering and deflate, 6-10x less CPU per
        // page view (the costliest step of the linking journey in a --cpu-prof profile).
        // Loaded here, at enrollment only: its code is not kept in memory for the broker's life.
        const { default: QRCode } = await import("qrcode");
        const svg = await QRCode.toString(otpauthUri, { type: "svg", errorCorrectionLevel: "M", margin: 2, width: 240 });
        const qrDataUrl = `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
        return { factorId, otpauthUri, qrDataUrl, recoveryCodes };
      };
      for (let round = 0; round < 3; round++) {
        let factor = round === 0 && current !== undefined ? current : await repo.find(clientId, subject);
        if (!factor) {
          const id = randomUUID();
          const secret = generateSecret({ length: 20 });
          const codes = newCodes(id);
          factor = await repo.createPending({ id, clientId, subject, secretSealed: sealer.seal(secret, totpSecretContext(id)), pendingAttemptId: attemptId }, codes.rows);
          if (factor.id === id) return render(id, secret, codes.codes);
        }
        if (factor.confirmedAt) throw new Error("factor already confirmed");
        if (factor.pendingAttemptId === attemptId) return render(factor.id, sealer.unseal(factor.secretSealed, totpSecretContext(factor.id)));
        const secret = generateSecret({ length: 20 });
        if (await repo.replacePending(factor.id, sealer.seal(secret, totpSecretContext(factor.id)), attemptId, factor.pendingAttemptId)) return render(factor.id, secret);
        // Another request changed the factor meanwhile: read it again.
      }
      throw new Error("factor changed concurrently");
    },

    async verify(clientId: string, subject: string, code: string): Promise<VerifyOutcome> {
      const now = clock.now();
      // Every try is claimed before its code is looked at, in one conditional update that counts
      // it as a failure unless it proves right: at most MAX_FAILURES codes are ever checked, even
      // when wrong codes arrive all at once. The claim reads the factor too; only a refused one
      // is read again, to say why.
      const factor = await repo.claimTry(clientId, subject, MAX_FAILURES, now);
      if (!factor) {
        const current = await repo.find(clientId, subject);
        if (!current) return { ok: false, reason: "not_enrolled" };
        return { ok: false, reason: "locked", lockedUntil: current.lockedUntil && current.lockedUntil > now ? current.lockedUntil : new Date(now.getTime() + LOCK_MS) };
      }

      const token = code.replace(/\s+/g, "");
      // A recovery code stands in for a lost authenticator, once, on a confirmed factor only.
      const recovery = normalizeRecoveryCode(code);
      if (factor.confirmedAt && RECOVERY_SHAPE.test(recovery) && (await repo.useRecoveryCode(factor.id, recoveryCodeHash(factor.id, recovery), now))) {
        await repo.clearFailures(factor.id);
        return { ok: true, at: now, method: "recovery_code", remaining: await repo.unusedRecoveryCodes(factor.id) };
      }
      let step: number | undefined;
      if (/^\d{6}$/.test(token)) {
        const secret = sealer.unseal(factor.secretSealed, totpSecretContext(factor.id));
        const result = await verify({ secret, token, epoch: Math.floor(now.getTime() / 1000), period: TOTP_PERIOD, epochTolerance: TOTP_PERIOD, digits: 6, algorithm: "sha1" });
        if (result.valid && "timeStep" in result) step = result.timeStep;
      }
      if (step !== undefined) {
        if (await repo.useStep(factor.id, step, now)) return { ok: true, step, at: now, method: "totp" };
      }
      // The factor as claimed: its count includes this try.
      if (factor.failedCount >= MAX_FAILURES) {
        const lockedUntil = new Date(now.getTime() + LOCK_MS);
        await repo.lockSpent(factor.id, MAX_FAILURES, lockedUntil);
        return { ok: false, reason: "locked", lockedUntil };
      }
      return { ok: false, reason: step !== undefined ? "replayed" : "invalid", failures: factor.failedCount };
    },
  };
}

export type TotpService = ReturnType<typeof createTotpService>;
