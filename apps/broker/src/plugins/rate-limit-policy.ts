/**
 * The rate limits an operator sets: the defaults per endpoint, and `BROKER_RATE_LIMITS` (JSON
 * merged over them, DESIGN.md "Configuration"), parsed once at start-up. Plain data, no I/O, so
 * config.ts can validate it before anything listens.
 */

export interface Limit {
  max: number;
  windowSeconds: number;
}

/** Per caller address, and per authenticated client (for `link_2fa`: per link attempt). */
export interface EndpointLimits {
  perIp?: Limit;
  perClient?: Limit;
}

export const RATE_LIMIT_ENDPOINTS = ["token", "par", "register", "introspect", "revoke", "link", "link_2fa", "events_poll"] as const;
export type RateLimitEndpoint = (typeof RATE_LIMIT_ENDPOINTS)[number];
export type RateLimits = Readonly<Record<RateLimitEndpoint, Readonly<EndpointLimits>>>;

const per = (max: number, windowSeconds: number): Limit => ({ max, windowSeconds });

/**
 * The defaults, and why (README "Rate limits" repeats them for operators):
 * - token / introspect: a bank's servers call these for every customer interaction, so they are
 *   generous (200 and 400 a second per client); per IP a little higher, since a bank may run
 *   several clients behind one egress address.
 * - revoke / par: called once per unlink or link, far rarer; 30 a second per client.
 * - register: done by hand or by deployment scripts, and each holds the initial access token; 30 a
 *   minute per IP stops token guessing. No per-client limit: no client exists yet.
 * - link: each start spends a Graph API call on the bank's page token, so a flood of bogus
 *   account_linking_tokens is stopped early: 30 a minute per customer address, 300 per bank.
 * - link_2fa: 10 code checks per link attempt in 5 minutes, on top of the factor's own lock after 5
 *   failures. No per-IP limit: many customers share a carrier's address.
 * - events_poll: a bank long-polls (one request held up to 10 s) or polls again at once while
 *   `moreAvailable`, taking up to 1000 events a poll; 30 polls a second per bank drains any backlog
 *   and still stops a poller spinning on `returnImmediately`. Per IP twice that, as for token.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  token: { perIp: per(3000, 10), perClient: per(2000, 10) },
  introspect: { perIp: per(5000, 10), perClient: per(4000, 10) },
  revoke: { perIp: per(600, 10), perClient: per(300, 10) },
  par: { perIp: per(600, 10), perClient: per(300, 10) },
  register: { perIp: per(30, 60) },
  link: { perIp: per(30, 60), perClient: per(300, 60) },
  link_2fa: { perClient: per(10, 5 * 60) },
  events_poll: { perIp: per(600, 10), perClient: per(300, 10) },
});

const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;
const LIMIT_TEXT = /^([1-9][0-9]{0,8})\/([1-9][0-9]{0,5})?(s|m|h)$/;

/** "3000/10s" → 3000 per 10 seconds; "30/m" → 30 per minute. Undefined when malformed. */
export function parseLimit(text: string): Limit | undefined {
  const m = LIMIT_TEXT.exec(text);
  if (!m) return undefined;
  const windowSeconds = Number(m[2] ?? 1) * UNIT_SECONDS[m[3] as keyof typeof UNIT_SECONDS];
  // A window longer than a day would hold a counter row, and a caller, that long.
  if (windowSeconds > 24 * 3600) return undefined;
  return { max: Number(m[1]), windowSeconds };
}

/** One line saying what is wrong with BROKER_RATE_LIMITS. */
export class RateLimitsError extends Error {}

const FIELDS = { per_ip: "perIp", per_client: "perClient" } as const;

/**
 * `BROKER_RATE_LIMITS`: `{"token":{"per_ip":"3000/10s","per_client":"2000/10s"}}`, each field
 * merged over the default of its endpoint; unset → the defaults. Throws RateLimitsError.
 */
export function parseRateLimits(json: string | undefined, defaults: RateLimits = DEFAULT_RATE_LIMITS): RateLimits {
  const out = Object.fromEntries(RATE_LIMIT_ENDPOINTS.map((e) => [e, { ...defaults[e] }])) as Record<RateLimitEndpoint, EndpointLimits>;
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new RateLimitsError(`is not valid JSON; e.g. {"token":{"per_ip":"3000/10s","per_client":"2000/10s"}}`);
    }
    if (!isPlainObject(parsed)) throw new RateLimitsError(`must be a JSON object of endpoints (${RATE_LIMIT_ENDPOINTS.join(", ")})`);
    for (const [endpoint, value] of Object.entries(parsed)) {
      if (!(RATE_LIMIT_ENDPOINTS as readonly string[]).includes(endpoint)) throw new RateLimitsError(`unknown endpoint ${JSON.stringify(endpoint.slice(0, 40))}; known: ${RATE_LIMIT_ENDPOINTS.join(", ")}`);
      if (!isPlainObject(value)) throw new RateLimitsError(`${endpoint} must be an object with per_ip and/or per_client`);
      for (const [field, text] of Object.entries(value)) {
        if (!Object.hasOwn(FIELDS, field)) throw new RateLimitsError(`${endpoint}.${JSON.stringify(field.slice(0, 40))} is not a field; use per_ip or per_client`);
        if (endpoint === "register" && field === "per_client") throw new RateLimitsError("register.per_client cannot be set: no client exists before registration");
        const limit = typeof text === "string" ? parseLimit(text) : undefined;
        if (!limit) throw new RateLimitsError(`${endpoint}.${field} must be "COUNT/WINDOW" such as "3000/10s" (window in s, m or h, at most 24h)`);
        out[endpoint as RateLimitEndpoint][FIELDS[field as keyof typeof FIELDS]] = limit;
      }
    }
  }
  return Object.freeze(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Object.freeze(v)]))) as RateLimits;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Endpoints whose per-client limit an operator may set for one client (`clients create
 * --rate-limits`): not register (no client yet), not link_2fa (counted per link attempt).
 */
export const CLIENT_LIMIT_ENDPOINTS = ["token", "par", "introspect", "revoke", "link", "events_poll"] as const satisfies readonly RateLimitEndpoint[];
type ClientLimitEndpoint = (typeof CLIENT_LIMIT_ENDPOINTS)[number];
/** As stored with the client: `{"token":"5000/10s"}`, the operator's own text. */
export type ClientRateLimits = Partial<Record<ClientLimitEndpoint, string>>;

/** One client's own per-client limits, as JSON text (the CLI's option). Throws RateLimitsError. */
export function parseClientRateLimits(json: string): ClientRateLimits {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new RateLimitsError('is not valid JSON; e.g. {"token":"5000/10s"}');
  }
  if (!isPlainObject(parsed)) throw new RateLimitsError(`must be a JSON object of endpoints (${CLIENT_LIMIT_ENDPOINTS.join(", ")})`);
  const out: ClientRateLimits = {};
  for (const [endpoint, text] of Object.entries(parsed)) {
    if (!(CLIENT_LIMIT_ENDPOINTS as readonly string[]).includes(endpoint)) throw new RateLimitsError(`unknown endpoint ${JSON.stringify(endpoint.slice(0, 40))}; a client's own limit can be set for ${CLIENT_LIMIT_ENDPOINTS.join(", ")}`);
    if (typeof text !== "string" || !parseLimit(text)) throw new RateLimitsError(`${endpoint} must be "COUNT/WINDOW" such as "5000/10s" (window in s, m or h, at most 24h)`);
    out[endpoint as ClientLimitEndpoint] = text;
  }
  return out;
}

const parsedTexts = new Map<string, Limit | undefined>();

/**
 * The limit a client's stored `rateLimits` sets for `endpoint`, if any (else the endpoint's
 * per_client limit applies). On the hot path: each text is parsed once per process.
 */
export function clientOwnLimit(stored: unknown, endpoint: string): Limit | undefined {
  if (!isPlainObject(stored)) return undefined;
  const text = stored[endpoint];
  if (typeof text !== "string") return undefined;
  let limit = parsedTexts.get(text);
  if (limit === undefined && !parsedTexts.has(text)) {
    if (parsedTexts.size > 1_000) parsedTexts.clear();
    limit = parseLimit(text);
    parsedTexts.set(text, limit);
  }
  return limit;
}

/** What a limited endpoint counted, for the RateLimit header fields. */
export interface Counted {
  /** The policy's name in the header fields, e.g. `token-ip`. */
  policy: string;
  limit: Limit;
  count: number;
  retryAfter: number;
}

/**
 * The RateLimit-Policy and RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11, the
 * Structured Fields form): `RateLimit-Policy: "token-ip";q=3000;w=10` and `RateLimit:
 * "token-ip";r=2990;t=7`, one list member per limit that applied (per IP, per client).
 */
export function rateLimitFields(counted: readonly Counted[]): { "ratelimit-policy": string; ratelimit: string } {
  let policy = "";
  let state = "";
  for (const c of counted) {
    const sep = policy ? ", " : "";
    policy += sep + policyMember(c.policy, c.limit);
    state += sep + stateMember(c.policy, c.limit, c.count, c.retryAfter);
  }
  return { "ratelimit-policy": policy, ratelimit: state };
}

// A limit's RateLimit-Policy member never changes (limits are fixed at start-up, a client's own
// are parsed once per text), so each is built once, not on every request it answers.
const policyMembers = new WeakMap<Limit, Map<string, string>>();

/** One limit's RateLimit-Policy member: `"token-ip";q=3000;w=10`. */
export function policyMember(policy: string, limit: Limit): string {
  let byPolicy = policyMembers.get(limit);
  if (!byPolicy) {
    byPolicy = new Map();
    policyMembers.set(limit, byPolicy);
  }
  let member = byPolicy.get(policy);
  if (member === undefined) {
    member = `"${policy}";q=${limit.max};w=${limit.windowSeconds}`;
    byPolicy.set(policy, member);
  }
  return member;
}

/** One limit's RateLimit member: `"token-ip";r=2990;t=7` (remaining, seconds to the reset). */
export const stateMember = (policy: string, limit: Limit, count: number, retryAfter: number): string =>
  `"${policy}";r=${Math.max(0, limit.max - count)};t=${Math.ceil(retryAfter)}`;

/**
 * The header fields of a lockout's 429: `maxFailures` wrong tries lock for `lockMs`, so the policy
 * is that many tries per lock period, none remain, and both Retry-After and the RateLimit state
 * say when the lock ends. A lockout answers like any other limit, so one client rule handles both.
 */
export function lockoutHeaders(policy: string, maxFailures: number, lockMs: number, until: Date, now: Date): Record<string, string> {
  const retryAfter = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
  const limit = { max: maxFailures, windowSeconds: Math.ceil(lockMs / 1000) };
  return { "retry-after": String(retryAfter), ...rateLimitFields([{ policy, limit, count: maxFailures, retryAfter }]) };
}
