import type { Clock } from "../../clock.ts";
import type { ClientRow } from "../clients/client-repo.ts";
import type { AccessTokens } from "./access-token.ts";
import type { ConsentRow, TokensRepo } from "./tokens-repo.ts";

/** Until when a consent read with its token is active (undefined: ended, or null: unknown): the ledger's rule, no query. */
export type ConsentUntil = (consent: ConsentRow | null) => Date | undefined;

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer" | "DPoP";
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** What every grant handler gets: the authenticated client, the form body and the DPoP key, if any. */
export interface GrantContext {
  client: ClientRow;
  body: Record<string, unknown>;
  jkt: string | undefined;
}

export interface TokenServiceDeps {
  repo: TokensRepo;
  accessTokens: AccessTokens;
  clock: Clock;
  consentUntil: ConsentUntil;
}

export function tokenResponse(token: string, exp: number, iat: number, scopes: readonly string[], jkt: string | undefined, refreshToken?: string): TokenResponse {
  return {
    access_token: token,
    token_type: jkt ? "DPoP" : "Bearer",
    expires_in: exp - iat,
    scope: scopes.join(" "),
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
  };
}
