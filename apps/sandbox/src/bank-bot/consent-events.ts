// The bank's consent-event receiver (RFC 8935 push of RFC 8417 Security Event Tokens): each SET
// is verified against the broker's /jwks.json (typ secevent+jwt, iss = the broker, aud = this
// bank's client id), handled once per `jti`, and answered 202.
//   consent.withdrawn → stop at once: forget the link's tokens, so nothing more is pushed.
//   consent.expiring  → send the customer a renewal button (Send API).
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, type JWTVerifyGetKey, jwtVerify } from "jose";
import { jsonFile } from "../json-store.ts";

export const EVENT_TYPES = ["granted", "renewed", "withdrawn", "expired", "expiring"] as const;
export type ConsentEventType = `consent.${(typeof EVENT_TYPES)[number]}`;

export interface ReceivedEvent {
  jti: string;
  /** `unknown`: a SET of another kind, acknowledged and kept for its jti. */
  type: ConsentEventType | "unknown";
  consent_id?: string;
  link_id?: string;
  psid?: string;
  actor?: string;
  seq?: string;
  received_at: string;
}

/** RFC 8935 section 2.3 error codes, answered with 400. */
export class SetRejected extends Error {
  constructor(
    readonly err: "invalid_request" | "invalid_key" | "invalid_issuer" | "invalid_audience" | "authentication_failed",
    description: string,
  ) {
    super(description);
  }
}

export interface ConsentEventDeps {
  dataDir: string;
  jwks: JWTVerifyGetKey;
  issuer(): Promise<string>;
  clientId(): Promise<string>;
  onWithdrawn(event: ReceivedEvent): Promise<void> | void;
  onExpiring(event: ReceivedEvent, detail: Record<string, unknown>): Promise<void> | void;
  now?: () => number;
}

/** `consent.withdrawn` whether the events claim names it that way or as a URI ending in it. */
function eventType(key: string): ConsentEventType | undefined {
  const m = /(?:^|[./:])(granted|renewed|withdrawn|expired|expiring)$/.exec(key);
  return m ? (`consent.${m[1]}` as ConsentEventType) : undefined;
}

const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);

export function createConsentEvents(deps: ConsentEventDeps) {
  const now = deps.now ?? Date.now;
  const file = jsonFile<ReceivedEvent[]>(deps.dataDir, "consent-events.json", () => []);

  async function verify(token: string) {
    // Junk is refused before the broker's keys are needed, so it gets 400 even while the broker is down.
    try {
      decodeProtectedHeader(token);
      decodeJwt(token);
    } catch {
      throw new SetRejected("invalid_request", "the body is not a JWT");
    }
    const [issuer, audience] = await Promise.all([deps.issuer(), deps.clientId()]);
    try {
      const { payload } = await jwtVerify(token, deps.jwks, { typ: "secevent+jwt", issuer, audience });
      return payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        if (err.claim === "aud") throw new SetRejected("invalid_audience", "the SET is not addressed to this client");
        if (err.claim === "iss") throw new SetRejected("invalid_issuer", "the SET was not issued by the broker");
        throw new SetRejected("invalid_request", `the SET's ${err.claim} claim is not acceptable`);
      }
      if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) throw new SetRejected("invalid_key", "the SET's signature does not verify with the broker's keys");
      if (err instanceof joseErrors.JOSEError && !(err instanceof joseErrors.JWKSTimeout)) throw new SetRejected("invalid_request", `not a valid SET: ${err.message}`);
      throw err;
    }
  }

  /** Verifies and handles one SET; a `jti` seen before is acknowledged and not handled again. */
  async function receive(token: string): Promise<{ duplicate: boolean; events: ReceivedEvent[] }> {
    const payload = await verify(token);
    const jti = str(payload.jti);
    const events = payload.events;
    if (!jti || typeof events !== "object" || events === null) throw new SetRejected("invalid_request", "the SET needs jti and events");
    if (file.read().some((e) => e.jti === jti)) return { duplicate: true, events: [] };
    const handled: ReceivedEvent[] = [];
    for (const [key, raw] of Object.entries(events as Record<string, unknown>)) {
      const type = eventType(key);
      if (!type || typeof raw !== "object" || raw === null) continue;
      const detail = raw as Record<string, unknown>;
      const event: ReceivedEvent = {
        jti,
        type,
        consent_id: str(detail.consent_id),
        link_id: str(detail.link_id),
        psid: str(detail.psid),
        actor: str(detail.actor),
        seq: str(detail.seq),
        received_at: new Date(now()).toISOString(),
      };
      // Recorded first: a withdrawal is acted on once, even if a redelivery races this one.
      file.update((all) => [...all, event].slice(-500));
      if (type === "consent.withdrawn") await deps.onWithdrawn(event);
      if (type === "consent.expiring") await deps.onExpiring(event, detail);
      handled.push(event);
    }
    if (!handled.length) file.update((all) => [...all, { jti, type: "unknown" as const, received_at: new Date(now()).toISOString() }].slice(-500));
    return { duplicate: false, events: handled };
  }

  return { receive, received: (): readonly ReceivedEvent[] => file.read() };
}

export type ConsentEvents = ReturnType<typeof createConsentEvents>;
