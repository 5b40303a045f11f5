// A bank's client of the broker. The OAuth parts (discovery, client authentication, PAR, the
// token endpoint, introspection, revocation, DPoP proofs and nonces) are openid-client's; the
// other calls are typed from the broker's OpenAPI document through openapi-fetch.
import createFetchClient from "openapi-fetch";
import {
  allowInsecureRequests,
  buildAuthorizationUrlWithPAR,
  ClientSecretBasic,
  type Configuration,
  type CryptoKey,
  type CryptoKeyPair,
  clientCredentialsGrant,
  customFetch,
  type DPoPHandle,
  discovery,
  fetchProtectedResource,
  genericGrantRequest,
  getDPoPHandle,
  PrivateKeyJwt,
  refreshTokenGrant,
  tokenIntrospection,
  tokenRevocation,
} from "openid-client";
import { errorFromResponse, toBrokerError } from "./errors.ts";
import type { paths } from "./generated/openapi.ts";

export type ClientAuthentication =
  /** The `client_secret` answered by registration, sent as HTTP Basic. */
  | { method: "client_secret_basic"; clientSecret: string }
  /** An ES256 private key whose public half is in the registered `jwks` (RFC 7523 assertions). */
  | { method: "private_key_jwt"; privateKey: CryptoKey; kid?: string };

export interface BrokerClientOptions {
  /** The broker's issuer URL, e.g. https://broker.example.com (http:// only for loopback, in development). */
  brokerUrl: string;
  clientId: string;
  auth: ClientAuthentication;
  /** A DPoP key pair: required when the client was registered with `dpop_bound_access_tokens`. */
  dpop?: CryptoKeyPair;
  /** Per request, default 10 s; a timeout or network error throws BrokerUnreachableError. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** For the cached ledger:check token; default Date.now. */
  now?: () => number;
}

export interface Tokens {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
}

export interface LinkRequest {
  /** Space-separated customer scopes, e.g. "balance:read alerts:fraud". */
  scope: string;
  /** From pkce(): the S256 challenge. */
  codeChallenge: string;
  /** Offered unticked on the consent page. */
  optionalScope?: string;
  /** Space-separated purposes; default each scope's own. */
  purpose?: string;
  consentDurationDays?: number;
}

export type CheckQuery = paths["/ledger/check"]["post"]["requestBody"]["content"]["application/json"];
export type CheckResult = paths["/ledger/check"]["post"]["responses"][200]["content"]["application/json"];
export type Link = paths["/links"]["get"]["responses"][200]["content"]["application/json"]["links"][number];
export type ConsentReceipt = paths["/ledger/consents/{id}/receipt"]["get"]["responses"][200]["content"]["application/json"];
export type Introspection = paths["/oauth/introspect"]["post"]["responses"][200]["content"]["application/json"];

const plainTokens = (t: Tokens): Tokens => ({
  access_token: t.access_token,
  token_type: t.token_type,
  ...(t.expires_in !== undefined ? { expires_in: t.expires_in } : {}),
  ...(t.refresh_token !== undefined ? { refresh_token: t.refresh_token } : {}),
  ...(t.scope !== undefined ? { scope: t.scope } : {}),
});

/** Plain http:// only on loopback (development and tests); anything else must be https://. */
function isLoopbackHttp(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "http:" && (["localhost", "127.0.0.1", "[::1]"].includes(u.hostname) || u.hostname.endsWith(".localhost"));
}

export function createBrokerClient(options: BrokerClientOptions) {
  const brokerUrl = options.brokerUrl.replace(/\/$/, "");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const baseFetch = options.fetch ?? fetch;
  const timedFetch = (input: string | URL | Request, init?: RequestInit) => baseFetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
  let setup: Promise<{ config: Configuration; dpop: DPoPHandle | undefined }> | undefined;
  // Service tokens (client_credentials) by scope, each reused until shortly before it expires.
  const serviceTokens = new Map<"ledger:check" | "ledger:audit", { token: string; expiresAt: number }>();

  /** Discovery (RFC 8414) once; a failure is retried on the next call. */
  function ready() {
    setup ??= (async () => {
      const auth = options.auth.method === "client_secret_basic" ? ClientSecretBasic(options.auth.clientSecret) : PrivateKeyJwt({ key: options.auth.privateKey, ...(options.auth.kid ? { kid: options.auth.kid } : {}) });
      const config = await discovery(new URL(brokerUrl), options.clientId, undefined, auth, {
        algorithm: "oauth2",
        timeout: Math.ceil(timeoutMs / 1000),
        execute: isLoopbackHttp(brokerUrl) ? [allowInsecureRequests] : [],
        [customFetch]: (url, init) => timedFetch(url, init as RequestInit),
      });
      return { config, dpop: options.dpop ? getDPoPHandle(config, options.dpop) : undefined };
    })().catch((err) => {
      setup = undefined;
      throw toBrokerError(err);
    });
    return setup;
  }

  async function call<T>(run: (s: { config: Configuration; dpop: DPoPHandle | undefined }) => Promise<T>): Promise<T> {
    const s = await ready();
    try {
      return await run(s);
    } catch (err) {
      throw toBrokerError(err);
    }
  }

  const dpopOption = (dpop: DPoPHandle | undefined) => (dpop ? { DPoP: dpop } : undefined);

  function basicHeader(): string {
    if (options.auth.method !== "client_secret_basic") {
      throw new Error("The broker's /links endpoints take client_secret_basic only (a GET or DELETE carries no client assertion)");
    }
    const enc = (s: string) => encodeURIComponent(s);
    return `Basic ${btoa(`${enc(options.clientId)}:${enc(options.auth.clientSecret)}`)}`;
  }

  /** openapi-fetch over a plain fetch with the timeout; network failures become BrokerUnreachableError. */
  const api = (fetchFn: (request: Request) => Promise<Response>) =>
    createFetchClient<paths>({
      baseUrl: brokerUrl,
      fetch: async (request: Request) => {
        try {
          return await fetchFn(request);
        } catch (err) {
          throw toBrokerError(err);
        }
      },
    });

  const client = {
    clientId: options.clientId,

    /** The broker's RFC 8414 metadata (issuer, endpoints, supported methods). */
    async metadata() {
      return (await ready()).config.serverMetadata();
    },

    /**
     * RFC 9126: pushes the link request and answers the URL for Messenger's `account_link`
     * button (`{broker}/link?client_id=..&request_uri=..`; Messenger appends its own parameters).
     */
    async pushAuthorizationRequest(request: LinkRequest): Promise<{ url: string; requestUri: string }> {
      const params: Record<string, string> = { scope: request.scope, code_challenge: request.codeChallenge, code_challenge_method: "S256" };
      if (request.optionalScope) params.optional_scope = request.optionalScope;
      if (request.purpose) params.purpose = request.purpose;
      if (request.consentDurationDays !== undefined) params.consent_duration_days = String(request.consentDurationDays);
      const url = await call(({ config, dpop }) => buildAuthorizationUrlWithPAR(config, params, dpopOption(dpop)));
      return { url: url.href, requestUri: url.searchParams.get("request_uri") ?? "" };
    },

    /** Exchanges the `authorization_code` of Messenger's `account_linking` webhook. */
    exchangeCode(input: { code: string; codeVerifier: string }): Promise<Tokens> {
      return call(async ({ config, dpop }) => plainTokens(await genericGrantRequest(config, "authorization_code", { code: input.code, code_verifier: input.codeVerifier }, dpopOption(dpop))));
    },

    /** A new access token from a refresh token (rotated, unless the client is DPoP-bound). */
    refresh(refreshToken: string): Promise<Tokens> {
      return call(async ({ config, dpop }) => plainTokens(await refreshTokenGrant(config, refreshToken, undefined, dpopOption(dpop))));
    },

    /** A service token (`ledger:check`, `ledger:audit`). */
    clientCredentials(scope: string): Promise<Tokens> {
      return call(async ({ config, dpop }) => plainTokens(await clientCredentialsGrant(config, { scope }, dpopOption(dpop))));
    },

    introspect(token: string): Promise<Introspection> {
      return call(async ({ config }) => (await tokenIntrospection(config, token)) as Introspection);
    },

    revoke(token: string): Promise<void> {
      return call(({ config }) => tokenRevocation(config, token));
    },

    /** This client's links for a Messenger PSID. */
    async listLinks(psid: string): Promise<Link[]> {
      const authorization = basicHeader();
      const { data, error, response } = await api((r) => timedFetch(r)).GET("/links", { params: { query: { psid } }, headers: { authorization } });
      if (!data) throw errorFromResponse(response, error);
      return data.links;
    },

    /** Unlinks: the link's tokens are revoked, its consent withdrawn, Messenger told. */
    async unlink(linkId: string): Promise<Link> {
      const authorization = basicHeader();
      const { data, error, response } = await api((r) => timedFetch(r)).DELETE("/links/{link_id}", { params: { path: { link_id: linkId } }, headers: { authorization } });
      if (!data) throw errorFromResponse(response, error);
      return data;
    },

    /**
     * Asks the consent ledger before a read: may this client use `scope` for `purpose` now? Uses
     * `accessToken` when given, else a `ledger:check` token of its own, cached until shortly
     * before it expires.
     */
    async checkConsent(query: CheckQuery, accessToken?: string): Promise<CheckResult> {
      const token = accessToken ?? (await serviceToken("ledger:check"));
      const { config, dpop } = await ready();
      const resource = api(async (request) => {
        const headers = new Headers(request.headers);
        const body = request.body ? await request.text() : undefined;
        return fetchProtectedResource(config, token, new URL(request.url), request.method, body, headers, dpopOption(dpop));
      });
      const { data, error, response } = await resource.POST("/ledger/check", { body: query });
      if (!data) {
        // A refused cached token (e.g. keys rotated): drop it so the next call gets a new one.
        if (!accessToken && response.status === 401) serviceTokens.delete("ledger:check");
        throw errorFromResponse(response, error);
      }
      return data;
    },

    /**
     * RFC 8936 poll of consent events: acknowledges `ack` (jtis you processed; they are never
     * returned again) and answers the next SETs by jti, oldest first. Verify each with
     * `createEventVerifier`. Without `returnImmediately` the broker waits up to 10 s for an event.
     * Takes client_secret_basic.
     */
    async pollEvents(request: { ack?: string[]; maxEvents?: number; returnImmediately?: boolean } = {}): Promise<{ sets: Record<string, string>; moreAvailable: boolean }> {
      const authorization = basicHeader();
      const { data, error, response } = await api((r) => baseFetch(r, { signal: AbortSignal.timeout(timeoutMs + 15_000) })).POST("/events/poll", { body: request, headers: { authorization } });
      if (!data) throw errorFromResponse(response, error);
      return data;
    },

    /**
     * A consent's signed receipt (JWS) and the page where the customer can read and keep it. Uses
     * `accessToken` when given, else this client's own service token (it needs `ledger:audit`).
     */
    async consentReceipt(consentId: string, accessToken?: string): Promise<ConsentReceipt> {
      const token = accessToken ?? (await serviceToken("ledger:audit"));
      const { config, dpop } = await ready();
      const resource = api(async (request) => fetchProtectedResource(config, token, new URL(request.url), request.method, undefined, new Headers(request.headers), dpopOption(dpop)));
      const { data, error, response } = await resource.GET("/ledger/consents/{id}/receipt", { params: { path: { id: consentId } } });
      if (!data) throw errorFromResponse(response, error);
      return data;
    },
  };

  async function serviceToken(scope: "ledger:check" | "ledger:audit"): Promise<string> {
    const cached = serviceTokens.get(scope);
    if (cached && cached.expiresAt > now() + 30_000) return cached.token;
    const t = await client.clientCredentials(scope);
    serviceTokens.set(scope, { token: t.access_token, expiresAt: now() + (t.expires_in ?? 300) * 1000 });
    return t.access_token;
  }

  return client;
}

export type BrokerClient = ReturnType<typeof createBrokerClient>;
