import type { ScopeKind } from "../../scopes.ts";
import type { GrantContext, TokenResponse, TokenServiceDeps } from "../token-service.ts";
import { authorizationCodeGrant } from "./authorization-code.ts";
import { clientCredentialsGrant } from "./client-credentials.ts";
import { refreshTokenGrant } from "./refresh-token.ts";

export type GrantHandler = (context: GrantContext) => Promise<TokenResponse>;

/** One grant type: its token endpoint handler, and what registration accepts for it. */
export interface GrantType {
  handler: (deps: TokenServiceDeps) => GrantHandler;
  /** The kind of scope it issues: a client holding such scopes must register it. */
  issues?: ScopeKind;
  /** Registration refuses it for a client holding none of the scopes it issues. */
  onlyWithItsScopes?: boolean;
  /** Another grant type a client must register with it. */
  requires?: string;
}

/**
 * The grant types of the token endpoint, in one table: the handler (one file per grant), the
 * name published in `grant_types_supported`, and the registration rules. Adding a grant type is
 * its file plus one row here.
 */
export const GRANT_TYPES = {
  authorization_code: { handler: authorizationCodeGrant, issues: "customer" },
  refresh_token: { handler: refreshTokenGrant, requires: "authorization_code" },
  client_credentials: { handler: clientCredentialsGrant, issues: "service", onlyWithItsScopes: true },
} as const satisfies Record<string, GrantType>;

export type GrantTypeName = keyof typeof GRANT_TYPES;
export const GRANT_TYPE_NAMES = Object.keys(GRANT_TYPES) as GrantTypeName[];

/** The kind of scope a grant type gives a client, itself or through the grant it requires. */
export function scopeKindOf(name: GrantTypeName): ScopeKind | undefined {
  const g: GrantType = GRANT_TYPES[name];
  return g.issues ?? (g.requires ? scopeKindOf(g.requires as GrantTypeName) : undefined);
}

/** The token endpoint's handlers by grant type name. */
export function createGrantHandlers(deps: TokenServiceDeps): Record<string, GrantHandler> {
  return Object.fromEntries(GRANT_TYPE_NAMES.map((name) => [name, GRANT_TYPES[name].handler(deps)]));
}
