// Consent events from the broker (RFC 8417 Security Event Tokens): verify one, whether it was
// pushed to your events_uri (RFC 8935) or polled (RFC 8936). WebCrypto only, no other dependency.
import type { CryptoKey } from "openid-client";

/** The JOSE `typ` of a Security Event Token. */
export const SET_TYP = "secevent+jwt";

export type ConsentEventType = "consent.granted" | "consent.renewed" | "consent.withdrawn" | "consent.expired" | "consent.expiring";

/** What every consent event carries. */
export interface ConsentEventBody {
  consent_id: string;
  link_id: string | null;
  psid: string | null;
  /** The (scope, purpose) pairs the consent grants. */
  pairs: { scope: string; purpose: string }[];
  /** The ledger entry's seq (for `consent.expiring`, the consent's latest entry). */
  seq: string;
  /** The consent's expiry, seconds since the epoch. */
  expires_at: number;
  /** `consent.withdrawn` only: customer, bank, messenger, compliance or system. */
  actor?: string;
}

export interface ConsentEvent {
  type: ConsentEventType;
  event: ConsentEventBody;
  /** The SET's id: deliveries repeat, so process each jti once. */
  jti: string;
  iss: string;
  aud: string;
  iat: number;
  /** Time of the event, seconds since the epoch. */
  toe: number;
}

export class EventVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EventVerificationError";
  }
}

interface Jwk {
  kid?: string;
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
}

const decoder = new TextDecoder();
function fromBase64Url(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function jsonPart(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(decoder.decode(fromBase64Url(s)));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw new EventVerificationError("not a compact JWS");
}

export interface EventVerifierOptions {
  /** The broker's base URL (its issuer); its keys are read from `{brokerUrl}/jwks.json`. */
  brokerUrl: string;
  /** Your client_id: the SET's `aud`. */
  clientId: string;
  fetch?: typeof fetch;
}

/**
 * Verifies consent events with the broker's published keys: ES256 signature by a key of
 * `/jwks.json` (read again when an unknown `kid` appears, so key rotation needs nothing from you),
 * `typ: secevent+jwt`, `iss` the broker, `aud` you, and one `consent.*` event.
 */
export function createEventVerifier(options: EventVerifierOptions) {
  const brokerUrl = options.brokerUrl.replace(/\/$/, "");
  const doFetch = options.fetch ?? fetch;
  let keys: Promise<Map<string, CryptoKey>> | undefined;
  let loadedAt = 0;

  async function load(): Promise<Map<string, CryptoKey>> {
    const res = await doFetch(`${brokerUrl}/jwks.json`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new EventVerificationError(`the broker's /jwks.json answered ${res.status}`);
    const { keys: list } = (await res.json()) as { keys: Jwk[] };
    const map = new Map<string, CryptoKey>();
    for (const jwk of list) {
      if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.kid) continue;
      map.set(jwk.kid, await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]));
    }
    loadedAt = Date.now();
    return map;
  }

  async function keyOf(kid: string): Promise<CryptoKey> {
    keys ??= load().catch((err) => {
      keys = undefined;
      throw err;
    });
    let key = (await keys).get(kid);
    // A new kid: the broker rotated; read the keys again (at most every 10 s).
    if (!key && Date.now() - loadedAt > 10_000) {
      keys = load();
      key = (await keys).get(kid);
    }
    if (!key) throw new EventVerificationError(`no published key ${kid}`);
    return key;
  }

  return {
    async verify(set: string): Promise<ConsentEvent> {
      const parts = typeof set === "string" ? set.trim().split(".") : [];
      if (parts.length !== 3) throw new EventVerificationError("not a compact JWS");
      const header = jsonPart(parts[0]!);
      if (header.typ !== SET_TYP) throw new EventVerificationError(`typ must be ${SET_TYP}`);
      if (header.alg !== "ES256" || typeof header.kid !== "string") throw new EventVerificationError("alg must be ES256, with a kid");
      const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await keyOf(header.kid), fromBase64Url(parts[2]!), new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
      if (!ok) throw new EventVerificationError("bad signature");
      const claims = jsonPart(parts[1]!);
      if (claims.iss !== brokerUrl) throw new EventVerificationError("iss is not the broker");
      if (claims.aud !== options.clientId) throw new EventVerificationError("aud is not this client");
      const events = claims.events as Record<string, ConsentEventBody> | undefined;
      const entries = events && typeof events === "object" ? Object.entries(events) : [];
      if (entries.length !== 1 || !entries[0]![0].startsWith("consent.")) throw new EventVerificationError("events must hold one consent event");
      if (typeof claims.jti !== "string") throw new EventVerificationError("jti is missing");
      const [type, event] = entries[0]!;
      return { type: type as ConsentEventType, event, jti: claims.jti, iss: claims.iss as string, aud: claims.aud as string, iat: Number(claims.iat), toe: Number(claims.toe) };
    },
  };
}

export type EventVerifier = ReturnType<typeof createEventVerifier>;
