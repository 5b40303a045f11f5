import type { TxSql } from "@link-broker/db";
import { hashToken, randomToken } from "../../crypto/hash.ts";
import { CODE_TTL } from "../scopes.ts";
import type { TokensRepo } from "./tokens-repo.ts";

export interface AuthorizationCodeInput {
  clientId: string;
  linkId: string;
  attemptId: string;
  consentId: string | null;
  subject: string;
  scopes: string[];
  /** The S256 code challenge of the link request. */
  codeChallenge: string;
}

/**
 * Issues a single-use authorization code inside the caller's transaction (the linking flow's
 * consent transaction). Stored as SHA-256; valid for 60 seconds from `now`.
 */
export async function issueAuthorizationCode(repo: Pick<TokensRepo, "createCode">, tx: TxSql, input: AuthorizationCodeInput, now: Date): Promise<string> {
  const code = randomToken();
  await repo.createCode(tx, {
    codeHash: hashToken(code),
    clientId: input.clientId,
    linkId: input.linkId,
    attemptId: input.attemptId,
    consentId: input.consentId,
    subject: input.subject,
    scopes: input.scopes,
    codeChallenge: input.codeChallenge,
    codeChallengeMethod: "S256",
    expiresAt: new Date(now.getTime() + CODE_TTL * 1000),
    createdAt: now,
  });
  return code;
}
