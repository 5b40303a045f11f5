/**
 * The consent lifecycle, one explicit state machine. Every transition first checks the current
 * state; the ledger appends an entry only for a transition this table allows.
 *
 *            grant                 withdraw
 *   (none) ─────────▶  active  ───────────────▶  withdrawn   (final)
 *                      │  ▲  │
 *               renew  └──┘  │ expiresAt passed (sweeper appends `expired`)
 *       (new expiresAt)      ▼
 *                         expired                             (final)
 *
 * - withdraw on withdrawn → no-op, reported as `alreadyWithdrawn` (nothing appended)
 * - withdraw on expired   → no-op, reported (the consent already ended)
 * - renew on withdrawn or expired → `not_active` error (a new grant is needed)
 * - an active consent whose expiresAt has passed is treated as expired at once, even before
 *   the sweeper has written its entry.
 */
import type { LedgerAction } from "@link-broker/db";

export type ConsentState = "active" | "withdrawn" | "expired";
export type Transition = "withdraw" | "renew" | "expire";

/** The state a consent is in at `at`, from its recorded status and expiry. */
export function effectiveState(status: string, expiresAt: Date, at: Date): ConsentState {
  if (status === "withdrawn") return "withdrawn";
  if (status === "expired") return "expired";
  return expiresAt.getTime() <= at.getTime() ? "expired" : "active";
}

export type TransitionResult =
  | { kind: "append"; action: LedgerAction; next: ConsentState }
  | { kind: "noop"; reason: string }
  | { kind: "refuse"; reason: string };

export function transition(current: ConsentState, t: Transition): TransitionResult {
  switch (t) {
    case "withdraw":
      if (current === "active") return { kind: "append", action: "withdrawn", next: "withdrawn" };
      return { kind: "noop", reason: current === "withdrawn" ? "already withdrawn" : "already expired" };
    case "renew":
      if (current === "active") return { kind: "append", action: "renewed", next: "active" };
      return { kind: "refuse", reason: `a ${current} consent cannot be renewed` };
    case "expire":
      if (current === "expired") return { kind: "noop", reason: "already expired" };
      if (current === "withdrawn") return { kind: "noop", reason: "withdrawn, not expired" };
      return { kind: "append", action: "expired", next: "expired" };
  }
}

/** The status the projection keeps after an entry with this action. */
export function statusAfter(action: LedgerAction): ConsentState {
  return action === "withdrawn" ? "withdrawn" : action === "expired" ? "expired" : "active";
}
