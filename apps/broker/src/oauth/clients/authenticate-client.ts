import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Clock } from "../../clock.ts";
import type { Config } from "../../config.ts";
import { sameLengthEquals } from "../../crypto/constant-equals.ts";
import { matchesHash } from "../../crypto/hash.ts";
import { InvalidClient, InvalidRequest } from "../../errors.ts";
import type { OutboundFetch } from "../../net/outbound-fetch.ts";
import { hasControlCharacter } from "../../web/control-characters.ts";
import type { ReplayRepo } from "../shared/replay-repo.ts";
import type { ClientCache, ClientRow } from "./client-repo.ts";

export const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
export const ASSERTION_ALGS = ["ES256", "PS256", "RS256", "EdDSA"];
/** A client assertion may live at most this long (exp - iat, and exp - now). */
export const MAX_ASSERTION_LIFETIME = 300;

/** Undoes form-urlencoding, which only a part holding `%` or `+` can carry. */
const formDecode = (part: string) => (/[%+]/.test(part) ? decodeURIComponent(part.replace(/\+/g, " ")) : part);

export interface ClientAuthInput {
  authorization?: string;
  body: Record<string, unknown>;
}

/**
 * client_secret_basic and private_key_jwt (RFC 6749 §2.3, RFC 7523). Every failure is the same
 * 401 invalid_client, whatever went wrong, so an attacker learns nothing about which part.
 */
export function createClientAuthenticator(deps: {
  /** `cached` answers a client the cache holds without a promise (the hot path). */
  clients: Pick<ClientCache, "get" | "cached">;
  replay: ReplayRepo;
  clock: Clock;
  config: Pick<Config, "publicUrl">;
  /** Fetches a client's jwks_uri: address-checked, size-capped, failures cached (net/outbound-fetch.ts). */
  fetch: OutboundFetch;
}) {
  const { clients, replay, clock, config } = deps;
  const remoteSets = new Map<string, JWTVerifyGetKey>();
  const proven = new Map<string, { secretHash: string; secret: string }>();

  function keySet(client: ClientRow): JWTVerifyGetKey | undefined {
    if (client.jwks) return createLocalJWKSet(client.jwks as never);
    if (!client.jwksUri) return undefined;
    let set = remoteSets.get(`${client.id} ${client.jwksUri}`);
    if (!set) {
      set = createRemoteJWKSet(new URL(client.jwksUri), {
        cacheMaxAge: 10 * 60_000,
        cooldownDuration: 30_000,
        timeoutDuration: 3_000,
        [customFetch]: deps.fetch as never,
      });
      remoteSets.set(`${client.id} ${client.jwksUri}`, set);
    }
    return set;
  }

  /** The client id and secret of a Basic Authorization header; throws the 401 (or 400) on anything else. */
  function basicCredentials(header: string, bodyClientId: unknown): { id: string; secret: string } {
    const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw InvalidClient("malformed Basic credentials");
    let id: string;
    let secret: string;
    try {
      // RFC 6749 §2.3.1: both parts are form-urlencoded before base64 (ours never need it).
      id = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw InvalidClient("malformed Basic credentials");
    }
    if (bodyClientId !== undefined && bodyClientId !== id) throw InvalidRequest("client_id does not match the authenticated client");
    if (id.length > 200 || secret.length > 500 || hasControlCharacter(id) || hasControlCharacter(secret)) throw InvalidClient();
    return { id, secret };
  }

  /**
   * The secret this client last proved is kept in memory with the stored hash it matched, so a
   * busy client is checked by a constant-time compare instead of a SHA-256 per request (the
   * largest cost of an introspection). A changed secret changes the hash and drops the entry.
   */
  function provedBefore(client: ClientRow | null | undefined, secret: string): boolean {
    if (client?.tokenEndpointAuthMethod !== "client_secret_basic" || !client.secretHash) return false;
    const known = proven.get(client.id);
    return known?.secretHash === client.secretHash && sameLengthEquals(secret, known.secret);
  }

  async function basic(header: string, bodyClientId: unknown): Promise<ClientRow> {
    const { id, secret } = basicCredentials(header, bodyClientId);
    const client = await clients.get(id);
    if (client?.tokenEndpointAuthMethod !== "client_secret_basic" || !client.secretHash) throw InvalidClient();
    if (provedBefore(client, secret)) return client;
    if (!matchesHash(secret, client.secretHash)) throw InvalidClient();
    if (proven.size >= 10_000) proven.clear();
    proven.set(id, { secretHash: client.secretHash, secret });
    return client;
  }

  async function assertion(jwt: string, bodyClientId: unknown): Promise<ClientRow> {
    let claims: JWTPayload;
    try {
      claims = decodeJwt(jwt);
    } catch {
      throw InvalidClient("malformed client assertion");
    }
    const id = claims.iss;
    if (typeof id !== "string" || claims.sub !== id) throw InvalidClient("client assertion iss and sub must be the client_id");
    if (id.length > 200 || hasControlCharacter(id)) throw InvalidClient();
    if (bodyClientId !== undefined && bodyClientId !== id) throw InvalidRequest("client_id does not match the authenticated client");
    const client = await clients.get(id);
    if (client?.tokenEndpointAuthMethod !== "private_key_jwt") throw InvalidClient();
    const keys = keySet(client);
    if (!keys) throw InvalidClient();
    const now = clock.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, keys, {
        issuer: id,
        subject: id,
        audience: config.publicUrl,
        algorithms: ASSERTION_ALGS,
        requiredClaims: ["exp", "jti"],
        currentDate: now,
        clockTolerance: 5,
      }));
    } catch {
      throw InvalidClient("client assertion is not valid");
    }
    // FAPI 2.0 §5.3.2.1 and RFC 7523bis: `aud` is the issuer as a single string. A list, or any
    // other endpoint, lets an assertion minted for one server be replayed at another (audience
    // injection), so both are refused.
    if (payload.aud !== config.publicUrl) throw InvalidClient("client assertion aud must be the issuer, as a single string");
    const nowSec = Math.floor(now.getTime() / 1000);
    const exp = payload.exp!;
    if (exp - nowSec > MAX_ASSERTION_LIFETIME || (payload.iat !== undefined && exp - payload.iat > MAX_ASSERTION_LIFETIME)) {
      throw InvalidClient("client assertion lifetime is too long");
    }
    if (typeof payload.jti !== "string" || payload.jti.length > 200 || hasControlCharacter(payload.jti)) throw InvalidClient("client assertion jti is missing");
    const fresh = await replay.consumeOnce(`assertion:${id}:${payload.jti}`, new Date((exp + 5) * 1000), now);
    if (!fresh) throw InvalidClient("client assertion jti was already used");
    return client;
  }

  /** Which method the request uses; throws when it uses none, both, or client_secret_post. */
  function methodOf(input: ClientAuthInput): "basic" | "assertion" {
    const { authorization, body } = input;
    const hasBasic = typeof authorization === "string" && /^basic /i.test(authorization);
    const hasAssertion = body.client_assertion !== undefined || body.client_assertion_type !== undefined;
    if (body.client_secret !== undefined) throw InvalidClient("client_secret_post is not supported");
    if (hasBasic && hasAssertion) throw InvalidRequest("use exactly one client authentication method");
    if (hasBasic) return "basic";
    if (hasAssertion) return "assertion";
    throw InvalidClient("client authentication is required");
  }

  return {
    async authenticate(input: ClientAuthInput): Promise<ClientRow> {
      const { authorization, body } = input;
      if (methodOf(input) === "basic") return basic(authorization!, body.client_id);
      if (body.client_assertion_type !== ASSERTION_TYPE || typeof body.client_assertion !== "string") {
        throw InvalidClient("unsupported client_assertion_type");
      }
      return assertion(body.client_assertion, body.client_id);
    },

    /**
     * The client, when memory alone proves it: Basic credentials whose secret this process already
     * checked against the client's stored hash, for a client the cache holds. Undefined otherwise
     * (then `authenticate`, which decides and answers every failure). Never throws.
     */
    provenFromMemory(input: ClientAuthInput): ClientRow | undefined {
      try {
        if (methodOf(input) !== "basic") return undefined;
        const { id, secret } = basicCredentials(input.authorization!, input.body.client_id);
        const client = clients.cached(id);
        return client && provedBefore(client, secret) ? client : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
export type ClientAuthenticator = ReturnType<typeof createClientAuthenticator>;
