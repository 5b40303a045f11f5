import type { AttemptState } from "@link-broker/db";

/**
 * One link attempt, one browser, ten minutes.
 *
 *   started ──bank login──▶ authenticated ──TOTP──▶ second_factor_passed ──approve──▶ consented ──code──▶ code_issued
 *      │                        │                         │
 *      └────────────┬───────────┴─────────────┬───────────┘
 *                   ▼                         ▼
 *      failed (bank error, bad state,     declined (customer denies)
 *              TOTP lock-out)
 *
 *   any live state ──10 minutes──▶ expired
 *
 * Every step names the state it starts from and moves with a conditional update, so a step can be
 * neither skipped (consent before the second factor) nor replayed (a second code).
 * `consented → code_issued` happens inside the consent transaction; `consented` is never
 * observable outside it.
 */
export const ATTEMPT_TTL_MS = 10 * 60_000;
/** Ended attempts are kept this long after they expire (for support questions), then deleted. */
export const ATTEMPT_RETENTION_MS = 24 * 60 * 60_000;

export const TRANSITIONS: Record<AttemptState, readonly AttemptState[]> = {
  started: ["authenticated", "failed", "declined", "expired"],
  authenticated: ["second_factor_passed", "failed", "declined", "expired"],
  second_factor_passed: ["consented", "declined", "failed", "expired"],
  consented: ["code_issued", "failed", "expired"],
  code_issued: [],
  declined: [],
  failed: [],
  expired: [],
};

export const LIVE_STATES: readonly AttemptState[] = ["started", "authenticated", "second_factor_passed", "consented"];

export function canMove(from: AttemptState, to: AttemptState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A transition that did not happen: the attempt is gone, expired, or not in the expected state. */
export class AttemptStateError extends Error {
  constructor(
    readonly reason: "not_found" | "expired" | "wrong_state",
    readonly expected: AttemptState,
    readonly actual?: AttemptState,
  ) {
    super(`link attempt ${reason}: expected ${expected}${actual ? `, found ${actual}` : ""}`);
    this.name = "AttemptStateError";
  }
}
