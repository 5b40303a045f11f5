import type { FastifyRequest, onRequestHookHandler } from "fastify";
import { TooManyRequestsError } from "../errors.ts";
import type { RateLimitRepo } from "./rate-limit-repo.ts";

export interface Limit {
  max: number;
  windowSeconds: number;
}

interface Counter {
  /** When this window ends (ms), as the database decided it. */
  resetAt: number;
  /** The shared count as last read from Postgres. */
  shared: number;
  /** Hits counted here and not yet written. */
  pending: number;
  /** The first hit's round trip, while the window is being opened. */
  opening?: Promise<void>;
  flushing?: boolean;
}

export interface Hit {
  count: number;
  retryAfter: number;
}

/**
 * The broker's one rate limiter: windows shared by every broker process through the RateLimit
 * table (`rate-limit-repo.ts`). A window starts at a key's first hit and lasts `windowSeconds`.
 * The first hit of a window in a process goes to Postgres (an upsert that answers the shared
 * count and the window's end); later hits are counted locally and written in one upsert every
 * `flushMs`. So a limit holds across processes, overshooting by at most what the other processes
 * took in the last `flushMs`, and the database sees a few writes per second per key, not one per
 * request. Used by the OAuth endpoints (per IP, per client) and the second-factor form.
 */
export function createRateLimiter(deps: { repo: RateLimitRepo; now?: () => number; flushMs?: number }) {
  const { repo } = deps;
  const now = deps.now ?? Date.now;
  const flushMs = deps.flushMs ?? 200;
  const counters = new Map<string, Counter>();

  function scheduleFlush(key: string, c: Counter, windowMs: number) {
    if (c.flushing) return;
    c.flushing = true;
    setTimeout(async () => {
      const add = c.pending;
      c.pending = 0;
      try {
        if (add > 0) c.shared = (await repo.add(key, add, new Date(now()), windowMs)).count;
      } catch {
        c.pending += add;
      }
      c.flushing = false;
    }, flushMs).unref();
  }

  const answer = (c: Counter, t: number): Hit => ({ count: c.shared + c.pending, retryAfter: Math.max(0, c.resetAt - t) / 1000 });

  return {
    /**
     * Counts one hit; returns the count in this window and the seconds until it resets. Only the
     * first hit of a window waits for Postgres; the rest answer synchronously (the hot path).
     */
    hit(key: string, limit: Limit): Hit | Promise<Hit> {
      const t = now();
      const windowMs = limit.windowSeconds * 1000;
      const c = counters.get(key);
      if (!c || (!c.opening && c.resetAt <= t)) {
        if (counters.size > 50_000) counters.clear();
        const counter: Counter = { resetAt: t + windowMs, shared: 0, pending: 0 };
        counters.set(key, counter);
        counter.opening = repo.add(key, 1, new Date(t), windowMs).then(
          (r) => {
            counter.shared = r.count;
            counter.resetAt = r.resetAt.getTime();
            counter.opening = undefined;
          },
          (err) => {
            counters.delete(key);
            throw err;
          },
        );
        return counter.opening.then(() => answer(counter, t));
      }
      const counter = c;
      if (counter.opening) {
        return counter.opening.then(() => {
          counter.pending++;
          scheduleFlush(key, counter, windowMs);
          return answer(counter, t);
        });
      }
      counter.pending++;
      scheduleFlush(key, counter, windowMs);
      return answer(counter, t);
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;

export interface EndpointLimits {
  perIp: Limit;
  perClient?: Limit;
}

/** Defaults per endpoint; `AppDeps.oauth.rateLimits` overrides them (the benchmark raises them). */
export type OAuthEndpoint = "token" | "par" | "register" | "introspect" | "revoke";
export const DEFAULT_RATE_LIMITS: Record<OAuthEndpoint, EndpointLimits> = {
  token: { perIp: { max: 3000, windowSeconds: 10 }, perClient: { max: 2000, windowSeconds: 10 } },
  introspect: { perIp: { max: 5000, windowSeconds: 10 }, perClient: { max: 4000, windowSeconds: 10 } },
  revoke: { perIp: { max: 600, windowSeconds: 10 }, perClient: { max: 300, windowSeconds: 10 } },
  par: { perIp: { max: 600, windowSeconds: 10 }, perClient: { max: 300, windowSeconds: 10 } },
  register: { perIp: { max: 30, windowSeconds: 60 } },
};

const tooMany = (hit: Hit, limit: Limit) =>
  hit.count > limit.max ? new TooManyRequestsError("Too many requests; slow down and retry later", hit.retryAfter) : undefined;

/** Counts a hit on `key`; resolves to the 429 error when it is over `limit`, synchronously when it can. */
export function checkLimit(limiter: RateLimiter, key: string, limit: Limit): TooManyRequestsError | undefined | Promise<TooManyRequestsError | undefined> {
  const hit = limiter.hit(key, limit);
  return hit instanceof Promise ? hit.then((h) => tooMany(h, limit)) : tooMany(hit, limit);
}

/**
 * onRequest hook keyed by the caller's IP, before the body is read. `then` runs after the count
 * (so refused requests count too) and may refuse the request from its headers: one hook stage
 * instead of two. Callback style: the common case never waits, so it costs no promise.
 */
export function limitByIp(limiter: RateLimiter, name: string, limit: Limit, then?: (request: FastifyRequest) => Error | undefined): onRequestHookHandler {
  return (request, _reply, done) => {
    const result = checkLimit(limiter, `${name}:ip:${request.ip}`, limit);
    if (result instanceof Promise) result.then((err) => done(err ?? then?.(request)), done);
    else done(result ?? then?.(request));
  };
}

/**
 * Keyed by the authenticated client; runs right after client authentication. Answers the 429
 * error, or undefined, synchronously unless the window is new in this process.
 */
export function limitByClient(limiter: RateLimiter, name: string, limit: Limit | undefined) {
  return (request: FastifyRequest): TooManyRequestsError | undefined | Promise<TooManyRequestsError | undefined> => {
    if (!limit || !request.client) return undefined;
    return checkLimit(limiter, `${name}:client:${request.client.id}`, limit);
  };
}
