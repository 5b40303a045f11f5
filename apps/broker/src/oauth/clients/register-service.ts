import type { Static } from "typebox";
import type { Clock } from "../../clock.ts";
import type { Config } from "../../config.ts";
import { constantEquals } from "../../crypto/constant-equals.ts";
import { hashToken, matchesHash, randomToken } from "../../crypto/hash.ts";
import type { Sealer } from "../../crypto/seal.ts";
import { clientSecretContext, type ClientSecretField } from "./client-secrets.ts";
import { InvalidClientMetadata, InvalidToken } from "../../errors.ts";
import { createAddressPolicy } from "../../net/address-policy.ts";
import type { ClientCache, ClientRepo, ClientRow } from "./client-repo.ts";
import type { ClientMetadataOutput } from "./register-schemas.ts";
import { validateMetadata, type ClientMetadata } from "./validate-metadata.ts";
import type { ClientRateLimits } from "../../plugins/rate-limit-policy.ts";

type Output = Static<typeof ClientMetadataOutput>;

/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592). The client secret and the
 * registration access token are 256-bit random values stored as SHA-256 and shown once, at
 * creation. Messenger and bank IdP secrets are sealed with the context `client:<id>:<field>`.
 * PUT replaces the metadata; secrets of an extension object that the PUT leaves out are kept
 * (they are never echoed, so a read-modify-write cannot send them back) — unless the PUT moves the
 * client: a new bank_idp.issuer, messenger.page_id or jwks_uri must come with every secret again,
 * so the registration access token alone cannot send a sealed secret to another server.
 */
/** The columns registered metadata fills, the same on create and update. */
function metadataColumns(v: ReturnType<typeof validateMetadata>) {
  return {
    tokenEndpointAuthMethod: v.tokenEndpointAuthMethod,
    jwks: v.jwks ? (v.jwks as object) : null,
    jwksUri: v.jwksUri,
    eventsUri: v.eventsUri,
    grantTypes: v.grantTypes,
    scopes: v.scopes,
    requirePar: v.requirePar,
    dpopBound: v.dpopBound,
    metadata: v.extra as object,
  };
}

/** Whether a PUT points the client somewhere else: another bank IdP, Messenger page or key set. */
function destinationChanged(meta: ClientMetadata, jwksUri: string | null, current: ClientRow): boolean {
  const issuer = meta.bank_idp?.issuer;
  const pageId = meta.messenger?.page_id;
  return (
    (issuer !== undefined && current.bankIdpIssuer !== null && issuer !== current.bankIdpIssuer) ||
    (pageId !== undefined && current.messengerPageId !== null && pageId !== current.messengerPageId) ||
    jwksUri !== (current.jwksUri ?? null)
  );
}

/**
 * A new client_id: 18 random bytes, base64url, drawn again when it would start with "-" (one in
 * 64), so that an id given after an option on a command line is never read as an option.
 */
export function newClientId(random: () => string = () => randomToken(18)): string {
  for (;;) {
    const id = random();
    if (!id.startsWith("-")) return id;
  }
}

export function createRegistrationService(deps: { repo: ClientRepo; cache: Pick<ClientCache, "invalidate">; sealer: Sealer; config: Pick<Config, "publicUrl" | "production" | "registrationToken" | "outboundAllowlist">; clock: Clock }) {
  const { repo, cache, sealer, config, clock } = deps;
  const addresses = createAddressPolicy(config.outboundAllowlist);
  // The same contexts the linking flow unseals with (client-secrets.ts): one definition for both.
  const seal = (id: string, field: ClientSecretField, value: string | undefined) => (value === undefined ? undefined : sealer.seal(value, clientSecretContext(id, field)));

  function extensionColumns(id: string, meta: ClientMetadata, current?: ClientRow, jwksUri: string | null = null) {
    const m = meta.messenger;
    const b = meta.bank_idp;
    const keep = <T>(value: T | undefined, old: T | null | undefined) => value ?? old ?? null;
    const moved = current !== undefined && destinationChanged(meta, jwksUri, current);
    const fresh = !current || moved;
    if (m && (fresh || !current.messengerPageTokenSealed) && (!m.page_access_token || !m.app_secret || !m.verify_token)) {
      throw InvalidClientMetadata(moved ? "a new messenger.page_id, bank_idp.issuer or jwks_uri needs every messenger secret again" : "messenger needs page_id, page_access_token, app_secret and verify_token");
    }
    if (b && (fresh || !current.bankIdpSecretSealed) && !b.client_secret) {
      throw InvalidClientMetadata(moved ? "a new bank_idp.issuer, messenger.page_id or jwks_uri needs bank_idp.client_secret again" : "bank_idp needs issuer, client_id and client_secret");
    }
    return {
      messengerPageId: m?.page_id ?? null,
      messengerPageTokenSealed: m ? keep(seal(id, "page_access_token", m.page_access_token), current?.messengerPageTokenSealed) : null,
      messengerAppSecretSealed: m ? keep(seal(id, "app_secret", m.app_secret), current?.messengerAppSecretSealed) : null,
      messengerVerifyTokenSealed: m ? keep(seal(id, "verify_token", m.verify_token), current?.messengerVerifyTokenSealed) : null,
      bankIdpIssuer: b?.issuer ?? null,
      bankIdpClientId: b?.client_id ?? null,
      bankIdpSecretSealed: b ? keep(seal(id, "bank_idp_client_secret", b.client_secret), current?.bankIdpSecretSealed) : null,
      bankIdpAuthMethod: b ? (b.token_endpoint_auth_method ?? "client_secret_basic") : null,
    };
  }

  function view(c: ClientRow): Output {
    const extra = (c.metadata ?? {}) as Record<string, unknown>;
    return {
      ...extra,
      client_id: c.id,
      client_id_issued_at: Math.floor(c.createdAt.getTime() / 1000),
      ...(c.secretHash ? { client_secret_expires_at: 0 } : {}),
      registration_client_uri: `${config.publicUrl}/connect/register/${encodeURIComponent(c.id)}`,
      client_name: c.name,
      token_endpoint_auth_method: c.tokenEndpointAuthMethod,
      ...(c.jwks ? { jwks: c.jwks as Output["jwks"] } : {}),
      ...(c.jwksUri ? { jwks_uri: c.jwksUri } : {}),
      ...(c.eventsUri ? { events_uri: c.eventsUri } : {}),
      grant_types: c.grantTypes,
      response_types: c.grantTypes.includes("authorization_code") ? ["code"] : [],
      scope: c.scopes.join(" "),
      require_pushed_authorization_requests: c.requirePar,
      dpop_bound_access_tokens: c.dpopBound,
      ...(c.messengerPageId ? { messenger: { page_id: c.messengerPageId } } : {}),
      ...(c.bankIdpIssuer ? { bank_idp: { issuer: c.bankIdpIssuer, client_id: c.bankIdpClientId ?? "", token_endpoint_auth_method: c.bankIdpAuthMethod ?? "client_secret_basic" } } : {}),
    };
  }

  async function authorize(clientId: string, authorization: string | undefined): Promise<ClientRow> {
    const token = /^bearer /i.test(authorization ?? "") ? authorization!.slice(7).trim() : "";
    if (!token) throw InvalidToken("registration access token is required");
    const client = await repo.findById(clientId);
    if (!client || !matchesHash(token, client.registrationTokenHash)) throw InvalidToken("registration access token is not valid for this client");
    return client;
  }

  return {
    /** The initial access token check for POST /connect/register. */
    checkInitialToken(authorization: string | undefined) {
      const token = /^bearer /i.test(authorization ?? "") ? authorization!.slice(7).trim() : "";
      if (!token || !constantEquals(token, config.registrationToken)) throw InvalidToken("initial access token is missing or not valid");
    },

    /**
     * RFC 7591 registration. `operator` holds what only the operator may set (the CLI passes it;
     * the HTTP endpoint never does): the client's own per-client rate limits.
     */
    async register(meta: ClientMetadata, operator: { rateLimits?: ClientRateLimits } = {}): Promise<Output> {
      if (meta.client_id !== undefined) throw InvalidClientMetadata("client_id is assigned by the broker");
      const v = validateMetadata(meta, config.production, addresses);
      const id = newClientId();
      const secret = v.tokenEndpointAuthMethod === "client_secret_basic" ? randomToken(32) : undefined;
      const registrationToken = randomToken(32);
      const row = await repo.create({
        id,
        name: v.name,
        secretHash: secret ? hashToken(secret) : null,
        registrationTokenHash: hashToken(registrationToken),
        ...metadataColumns(v),
        ...extensionColumns(id, meta),
        ...(operator.rateLimits && Object.keys(operator.rateLimits).length ? { rateLimits: operator.rateLimits } : {}),
        createdAt: clock.now(),
      });
      return { ...view(row), ...(secret ? { client_secret: secret } : {}), registration_access_token: registrationToken };
    },

    async read(clientId: string, authorization: string | undefined): Promise<Output> {
      return view(await authorize(clientId, authorization));
    },

    async update(clientId: string, authorization: string | undefined, meta: ClientMetadata): Promise<Output> {
      const current = await authorize(clientId, authorization);
      if (meta.client_id !== clientId) throw InvalidClientMetadata("client_id in the body must match the client being updated");
      const v = validateMetadata(meta, config.production, addresses);
      const switchedToSecret = v.tokenEndpointAuthMethod === "client_secret_basic" && !current.secretHash;
      // Changing to client_secret_basic needs a secret the client never received: refuse.
      if (switchedToSecret) throw InvalidClientMetadata("token_endpoint_auth_method cannot change to client_secret_basic; register a new client");
      const row = await repo.update(clientId, {
        name: v.name,
        secretHash: v.tokenEndpointAuthMethod === "client_secret_basic" ? current.secretHash : null,
        ...metadataColumns(v),
        ...extensionColumns(clientId, meta, current, v.jwksUri),
      });
      cache.invalidate(clientId);
      return view(row);
    },

    async remove(clientId: string, authorization: string | undefined): Promise<void> {
      await authorize(clientId, authorization);
      await repo.remove(clientId, clock.now());
      cache.invalidate(clientId);
    },
  };
}
export type RegistrationService = ReturnType<typeof createRegistrationService>;
