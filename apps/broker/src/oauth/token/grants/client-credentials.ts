import { UnauthorizedClient } from "../../../errors.ts";
import { checkServiceScope } from "../../checks/check-scope.ts";
import { tokenResponse, type GrantContext, type TokenResponse, type TokenServiceDeps } from "../token-service.ts";

/**
 * client_credentials, for the service scopes only. `sub` is the client_id. These tokens are not
 * written to the database (the hot path); revoking one writes its jti then.
 */
export function clientCredentialsGrant(deps: Pick<TokenServiceDeps, "accessTokens">) {
  return async ({ client, body, jkt }: GrantContext): Promise<TokenResponse> => {
    if (!client.grantTypes.includes("client_credentials")) throw UnauthorizedClient("this client is not registered for client_credentials");
    const scopes = checkServiceScope(body.scope, client.scopes);
    const { token, claims } = await deps.accessTokens.issue({ clientId: client.id, subject: client.id, scopes, jkt });
    return tokenResponse(token, claims.exp, claims.iat, scopes, jkt);
  };
}
