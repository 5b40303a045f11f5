import type { VerifyResult } from "@link-broker/consent-ledger";

/** A verify result as GET /ledger/verify and `link-broker ledger verify` print it (DESIGN.md). */
export function verifyReply(v: VerifyResult) {
  return {
    ok: v.ok,
    checked: v.checked,
    head_seq: v.headSeq,
    head_hash: v.headHash,
    checkpoints_verified: v.checkpointsVerified,
    first_bad_seq: v.firstBadSeq,
    problem: v.problem,
    ...(v.consentId !== undefined ? { consent_id: v.consentId } : {}),
  };
}
