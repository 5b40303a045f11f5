import type { Actor, ConsentLedger } from "@link-broker/consent-ledger";
import type { Client, Link, TxSql } from "@link-broker/db";
import type { preHandlerHookHandler } from "fastify";
import type { PushedRequestParams } from "./oauth/par/par-service.ts";
import type { AuthorizationCodeInput } from "./oauth/token/issue-authorization-code.ts";

/**
 * What one module asks of another, in one place. The composition root (app.ts) passes the real
 * services; tests may pass doubles through `AppDeps.ports`. Ledger shapes are the ledger
 * package's own types, never copies.
 */

/** A registered client (the Prisma `Client` row), as the OAuth module's client cache returns it. */
export interface ClientLookup {
  get(clientId: string): Promise<Client | null>;
}

/** The OAuth server, as the linking flow and link management use it. */
export interface OAuthPort {
  /** Single-use and bound to the client; undefined when unknown, used, expired or another client's. */
  consumePushedRequest(clientId: string, requestUri: string): Promise<PushedRequestParams | undefined>;
  /** A single-use code (≤ 60 s), stored hashed inside the caller's transaction. */
  issueAuthorizationCode(tx: TxSql, input: AuthorizationCodeInput): Promise<string>;
  /** Ends every grant (access and refresh tokens) of the link; answers how many were active. */
  revokeGrantsOfLink(linkId: string, reason: string): Promise<number>;
}

/** The consent ledger, as the linking flow and link management use it. */
export type LedgerPort = Pick<ConsentLedger, "grant" | "reconsent" | "withdraw" | "endOf" | "inactiveAmong">;

export interface UnlinkOptions {
  actor: Actor;
  reason: string;
  /** false when Messenger started the unlink (its webhook): no Graph call. */
  notifyMessenger: boolean;
  /** Only while the link still holds this consent (the reconciler: a re-link may have replaced it). */
  consentId?: string;
  /** Recorded on the ledger's `withdrawn` entry (e.g. the staff member who withdrew). */
  evidence?: Record<string, unknown>;
}
export type UnlinkResult = { status: "unlinked" | "already_unlinked" | "not_found" };

/** Link management, as Messenger's webhook uses it. */
export interface LinkUnlinker {
  activeByPsid(clientId: string, psid: string): Promise<Pick<Link, "id">[]>;
  unlink(linkId: string, options: UnlinkOptions): Promise<UnlinkResult>;
}

/** What tests may replace: the OAuth server and ledger the links and linking modules see, and /links client authentication. */
export interface ModulePorts {
  oauth: OAuthPort;
  ledger: LedgerPort;
  clientAuth: preHandlerHookHandler;
}
