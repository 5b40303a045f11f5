import type { Client } from "@link-broker/db";
import * as oidc from "openid-client";
import { checkUrl } from "../config.ts";
import { type OutboundFetch, OutboundError } from "../net/outbound-fetch.ts";
import { timed, type UpstreamMeter } from "../net/upstream-meter.ts";
import type { Sealer } from "../crypto/seal.ts";
import { clientSecretContext } from "../oauth/clients/client-secrets.ts";

/** The broker's relying-party credentials at a client's bank IdP (`bank_idp` metadata), unsealed. */
export interface BankIdpSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  authMethod: "client_secret_basic" | "client_secret_post";
}

type BankIdpColumns = Pick<Client, "id" | "bankIdpIssuer" | "bankIdpClientId" | "bankIdpSecretSealed" | "bankIdpAuthMethod">;

/** The client's bank IdP settings, or undefined when it registered none. */
export function bankIdpSettings(client: BankIdpColumns, sealer: Sealer): BankIdpSettings | undefined {
  const { bankIdpIssuer, bankIdpClientId, bankIdpSecretSealed } = client;
  if (!bankIdpIssuer || !bankIdpClientId || !bankIdpSecretSealed) return undefined;
  return {
    issuer: bankIdpIssuer,
    clientId: bankIdpClientId,
    clientSecret: sealer.unseal(bankIdpSecretSealed, clientSecretContext(client.id, "bank_idp_client_secret")),
    authMethod: client.bankIdpAuthMethod === "client_secret_post" ? "client_secret_post" : "client_secret_basic",
  };
}

/**
 * The broker as relying party of each bank's OpenID provider (openid-client): discovery cached
 * per issuer, authorization code + PKCE S256, state and nonce, and every ID token check
 * openid-client performs (issuer, audience, signature, nonce, expiry).
 */
export class BankIdpError extends Error {
  constructor(
    readonly kind: "unavailable" | "misconfigured" | "denied" | "invalid_response",
    message: string,
  ) {
    super(message);
    this.name = "BankIdpError";
  }
}

export interface AuthorizationRequest {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** `meter`, in both: the request the provider is asked for, which adds up its wait (net/upstream-meter.ts). */
export interface BankIdp {
  authorizationRequest(settings: BankIdpSettings, meter?: UpstreamMeter): Promise<AuthorizationRequest>;
  /** Completes the callback: exchanges the code and checks everything; answers the bank's `sub`. */
  completeCallback(settings: BankIdpSettings, currentUrl: URL, checks: { state: string; nonce: string; codeVerifier: string }, meter?: UpstreamMeter): Promise<{ subject: string }>;
}

export interface BankIdpOptions {
  /** `{PUBLIC_URL}/link/callback`. */
  redirectUri: string;
  production: boolean;
  /**
   * Every request to the bank's provider (discovery, token, JWKS) goes through it: the issuer
   * and every endpoint its discovery document names are address-checked at connect time, and
   * bodies are capped (net/outbound-fetch.ts).
   */
  fetch: OutboundFetch;
  timeoutSeconds?: number;
  /** How long discovered metadata is reused. */
  discoveryTtlMs?: number;
  now?: () => number;
}

export function createBankIdp(options: BankIdpOptions): BankIdp {
  const { redirectUri, production, fetch: outboundFetch, timeoutSeconds = 5, discoveryTtlMs = 10 * 60_000, now = Date.now } = options;
  const discovered = new Map<string, { metadata: oidc.ServerMetadata; at: number }>();

  function insecureAllowed(issuer: URL) {
    return !production && issuer.protocol === "http:";
  }

  function issuerUrl(issuer: string): URL {
    const checked = checkUrl(issuer, production);
    if (typeof checked === "string") throw new BankIdpError("misconfigured", `bank issuer ${checked}`);
    return checked;
  }

  async function configuration(settings: BankIdpSettings, meter: UpstreamMeter | undefined): Promise<oidc.Configuration> {
    const issuer = issuerUrl(settings.issuer);
    // A configuration is made per call, so its fetch can time the calls for this request.
    const fetch = (meter ? (url, init) => timed(meter, () => outboundFetch(url, init)) : outboundFetch) as oidc.CustomFetch;
    const auth = settings.authMethod === "client_secret_post" ? oidc.ClientSecretPost(settings.clientSecret) : oidc.ClientSecretBasic(settings.clientSecret);
    const cached = discovered.get(issuer.href);
    let config: oidc.Configuration;
    if (cached && now() - cached.at < discoveryTtlMs) {
      config = new oidc.Configuration(cached.metadata, settings.clientId, { client_secret: settings.clientSecret }, auth);
      if (insecureAllowed(issuer)) oidc.allowInsecureRequests(config);
    } else {
      try {
        config = await oidc.discovery(issuer, settings.clientId, { client_secret: settings.clientSecret }, auth, {
          execute: insecureAllowed(issuer) ? [oidc.allowInsecureRequests] : [],
          timeout: timeoutSeconds,
          [oidc.customFetch]: fetch,
        });
      } catch {
        throw new BankIdpError("unavailable", "bank identity provider discovery failed");
      }
      discovered.set(issuer.href, { metadata: config.serverMetadata(), at: now() });
    }
    config.timeout = timeoutSeconds;
    config[oidc.customFetch] = fetch;
    return config;
  }

  return {
    async authorizationRequest(settings, meter) {
      const config = await configuration(settings, meter);
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: "openid",
        response_type: "code",
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: "S256",
        state,
        nonce,
      });
      return { url, state, nonce, codeVerifier };
    },

    async completeCallback(settings, currentUrl, checks, meter) {
      const config = await configuration(settings, meter);
      const error = currentUrl.searchParams.get("error");
      if (error) throw new BankIdpError(error === "access_denied" ? "denied" : "invalid_response", `bank identity provider answered ${error.slice(0, 64)}`);
      // openid-client matches the redirect URI against the registered one: rebuild it on PUBLIC_URL.
      const callbackUrl = new URL(redirectUri);
      callbackUrl.search = currentUrl.search;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          pkceCodeVerifier: checks.codeVerifier,
          idTokenExpected: true,
        });
        const subject = tokens.claims()?.sub;
        if (!subject) throw new BankIdpError("invalid_response", "ID token without sub");
        return { subject };
      } catch (err) {
        if (err instanceof BankIdpError) throw err;
        if (err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError) {
          throw new BankIdpError("invalid_response", `bank identity provider refused the code (${err.error})`);
        }
        // A refused address, an oversized or a timed-out answer: the provider is not usable.
        if ((err as { cause?: unknown }).cause instanceof OutboundError) throw new BankIdpError("unavailable", "bank identity provider could not be reached");
        if (err instanceof oidc.ClientError) throw new BankIdpError("invalid_response", `bank login response failed a check (${err.code ?? "check"})`);
        throw new BankIdpError("unavailable", "bank identity provider could not be reached");
      }
    },
  };
}
