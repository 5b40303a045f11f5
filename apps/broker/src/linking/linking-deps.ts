import type { Client, Tx } from "@link-broker/db";
import type { preHandlerHookHandler } from "fastify";

/**
 * What the linking flow needs from the OAuth server (src/oauth) and the consent ledger
 * (@link-broker/consent-ledger). Declared here so the flow can be built and tested against fakes;
 * app.ts passes the real implementations.
 */

/** A pushed authorization request (RFC 9126), resolved and consumed once. */
export interface PushedRequest {
  scopes: string[];
  purposes: string[];
  codeChallenge: string;
  codeChallengeMethod: "S256";
  consentDurationDays: number;
}

export interface IssueCodeInput {
  clientId: string;
  linkId: string;
  attemptId: string;
  consentId: string;
  subject: string;
  scopes: string[];
  codeChallenge: string;
}

export interface LinkingOAuth {
  /** Single-use and bound to the client; throws an OAuthError when unknown, expired or used. */
  consumePushedRequest(clientId: string, requestUri: string): Promise<PushedRequest>;
  /** Stores the code hashed (≤ 60 s) inside the caller's transaction; answers the code. */
  issueAuthorizationCode(tx: Tx, input: IssueCodeInput): Promise<string>;
  /** Revokes every grant (access and refresh tokens) issued for the link. */
  revokeGrantsOfLink(linkId: string, reason: string): Promise<void>;
}

export type LedgerActor = "customer" | "bank" | "messenger" | "compliance" | "system";

export interface GrantInput {
  clientId: string;
  subject: string;
  linkId: string;
  psid: string;
  scopes: string[];
  purposes: string[];
  expiresAt: Date;
  actor: LedgerActor;
  evidence: Record<string, unknown>;
}

/** Re-linking: the customer consents again over the consent the link already holds. */
export interface ReconsentInput extends GrantInput {
  consentId: string;
}

export interface LedgerAppendResult {
  consentId: string;
  seq: bigint | number | string;
  hash: string;
}

export interface LinkingLedger {
  grant(input: GrantInput, options: { tx: Tx }): Promise<LedgerAppendResult>;
  /** Same scopes and purposes with a later expiry renew; anything else replaces the consent. */
  reconsent(input: ReconsentInput, options: { tx: Tx }): Promise<LedgerAppendResult>;
  /** Idempotent: says when the consent was already withdrawn. */
  withdraw(input: { consentId: string; actor: LedgerActor; reason: string; evidence?: Record<string, unknown> }): Promise<{ alreadyWithdrawn: boolean }>;
  /**
   * How a consent ended: withdrawn (by whom, from its `withdrawn` entry) or expired (actor
   * `system`); undefined while it is active or when it is unknown.
   */
  endOf(consentId: string): Promise<ConsentEnd | undefined>;
}

export interface ConsentEnd {
  state: "withdrawn" | "expired";
  actor: LedgerActor;
}

/** The registered client record (Prisma `Client`), as the OAuth client repo returns it. */
export interface ClientLookup {
  findById(clientId: string): Promise<Client | null>;
}

export interface LinkingDeps {
  oauth: LinkingOAuth;
  ledger: LinkingLedger;
  /**
   * Authenticates a registered client and sets `request.client` (at least `{ id }`; used by
   * /links). The OAuth module owns the `request.client` type declaration.
   */
  clientAuth: preHandlerHookHandler;
  /** Defaults to a Prisma lookup of non-deleted clients. */
  clients?: ClientLookup;
}
