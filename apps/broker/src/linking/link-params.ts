import { checkUrl } from "../config.ts";
import type { ClientRow } from "../oauth/clients/client-repo.ts";
import { checkLinkRequest, type PushedRequestParams } from "../oauth/par/par-service.ts";

/** A link request, resolved from a pushed request (RFC 9126) or from the /link query. */
export interface PushedRequest {
  /** Required scopes, shown fixed. */
  scopes: string[];
  /** Offered as unticked checkboxes. */
  optionalScopes: string[];
  purposes: string[];
  codeChallenge: string;
  codeChallengeMethod: "S256";
  consentDurationDays: number;
}

export class LinkParamError extends Error {}

/**
 * The authorization parameters of a client that does not require PAR: the same pipeline of
 * checks the PAR endpoint runs (oauth/par/par-service.ts), in the linking flow's shape.
 */
export function parsePlainRequest(query: object, client: Pick<ClientRow, "scopes" | "grantTypes">): PushedRequest {
  return toPushedRequest(checkLinkRequest(client, { ...(query as Record<string, unknown>), request_uri: undefined }));
}

export function toPushedRequest(par: PushedRequestParams): PushedRequest {
  return {
    scopes: par.scopes,
    optionalScopes: par.optional_scopes ?? [],
    purposes: par.purposes,
    codeChallenge: par.code_challenge,
    codeChallengeMethod: "S256",
    consentDurationDays: par.consent_duration_days,
  };
}

/**
 * Whether Messenger's redirect_uri starts with an allowlisted prefix, compared as parsed URLs:
 * same origin, and a path under the prefix's path (segment-wise, so `/account_linking` does not
 * admit `/account_linking_evil`). No credentials, no fragment.
 */
export function checkRedirectUri(raw: string | undefined, allowlist: readonly string[], production: boolean): URL | undefined {
  if (!raw || raw.length > 2048) return undefined;
  const url = checkUrl(raw, production);
  if (typeof url === "string") return undefined;
  if (url.username || url.password || url.hash) return undefined;
  for (const entry of allowlist) {
    let prefix: URL;
    try {
      prefix = new URL(entry);
    } catch {
      continue;
    }
    if (prefix.origin !== url.origin) continue;
    const base = prefix.pathname.replace(/\/$/, "");
    if (url.pathname === base || url.pathname.startsWith(`${base}/`) || base === "") return url;
  }
  return undefined;
}

/** The redirect back to Messenger: `authorization_code` appended with the URL API when given. */
export function messengerReturnUrl(redirectUri: string, authorizationCode?: string): string {
  const url = new URL(redirectUri);
  url.searchParams.delete("authorization_code");
  if (authorizationCode) url.searchParams.append("authorization_code", authorizationCode);
  return url.href;
}
