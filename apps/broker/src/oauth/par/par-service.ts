import type { Clock } from "../../clock.ts";
import { hashToken, randomToken } from "../../crypto/hash.ts";
import { InvalidRequest, UnauthorizedClient } from "../../errors.ts";
import { checkCodeChallenge } from "../checks/check-pkce.ts";
import { checkConsentDuration, checkPairs, checkPurposes } from "../checks/check-purposes.ts";
import { checkCustomerScope, checkOptionalScope } from "../checks/check-scope.ts";
import type { ClientRow } from "../clients/client-repo.ts";
import { PAR_TTL } from "../scopes.ts";
import type { ParRepo } from "./par-repo.ts";

export const REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";

/** What a pushed request holds, as `/link` needs it. */
export interface PushedRequestParams {
  /** Required: granted with the link. */
  scopes: string[];
  /** Offered unticked on the consent page (absent in requests pushed before optional scopes). */
  optional_scopes?: string[];
  code_challenge: string;
  code_challenge_method: "S256";
  purposes: string[];
  consent_duration_days: number;
  state?: string;
}

/** The pipeline of checks a pushed (or direct) link request goes through. */
export function checkLinkRequest(client: Pick<ClientRow, "scopes" | "grantTypes">, body: Record<string, unknown>): PushedRequestParams {
  if (!client.grantTypes.includes("authorization_code")) throw UnauthorizedClient("this client is not registered for authorization_code");
  if (body.request_uri !== undefined || body.request !== undefined) throw InvalidRequest("request_uri and request are not allowed here");
  if (body.response_type !== undefined && body.response_type !== "code") throw InvalidRequest("response_type must be code");
  const scopes = checkCustomerScope(body.scope, client.scopes);
  const code_challenge = checkCodeChallenge(body.code_challenge, body.code_challenge_method);
  const optional_scopes = checkOptionalScope(body.optional_scope, client.scopes, scopes);
  const purposes = checkPurposes(body.purpose, [...scopes, ...optional_scopes]);
  checkPairs([...scopes, ...optional_scopes], purposes);
  const consent_duration_days = checkConsentDuration(body.consent_duration_days);
  const state = typeof body.state === "string" ? body.state : undefined;
  return { scopes, optional_scopes, code_challenge, code_challenge_method: "S256", purposes, consent_duration_days, ...(state ? { state } : {}) };
}

export function createParService(deps: { repo: ParRepo; clock: Clock }) {
  const { repo, clock } = deps;
  return {
    async push(client: ClientRow, body: Record<string, unknown>): Promise<{ request_uri: string; expires_in: number }> {
      const params = checkLinkRequest(client, body);
      const requestUri = `${REQUEST_URI_PREFIX}${randomToken()}`;
      const now = clock.now();
      await repo.create({ requestUriHash: hashToken(requestUri), clientId: client.id, params, expiresAt: new Date(now.getTime() + PAR_TTL * 1000) });
      return { request_uri: requestUri, expires_in: PAR_TTL };
    },
    /** Single use, bound to the client that pushed it; undefined when unknown, used, expired or another client's. */
    async consumePushedRequest(clientId: string, requestUri: string): Promise<PushedRequestParams | undefined> {
      if (typeof requestUri !== "string" || !requestUri.startsWith(REQUEST_URI_PREFIX) || requestUri.length > 200) return undefined;
      const params = await repo.consume(hashToken(requestUri), clientId, clock.now());
      return params as PushedRequestParams | undefined;
    },
  };
}
export type ParService = ReturnType<typeof createParService>;
