import type { Db } from "@link-broker/db";
import type { FastifyRequest, onRequestHookHandler } from "fastify";
import { TooManyRequestsError } from "../errors.ts";

export interface Limit {
  max: number;
  windowSeconds: number;
}

interface Counter {
  windowStart: number;
  resetAt: number;
  /** The shared count as last read from Postgres. */
  shared: number;
  /** Hits counted here and not yet written. */
  pending: number;
  flushing?: Promise<void>;
}

export interface Hit {
  count: number;
  retryAfter: number;
}

/**
 * Fixed-window rate limits shared by every broker process through the RateLimit table.
 * The first hit of a window in a process goes to Postgres synchronously (an upsert that returns
 * the shared count); later hits are counted locally and written in one upsert every `flushMs`.
 * So a limit holds across processes, overshooting by at most what the other processes took in
 * the last `flushMs`, and the database sees a few writes per second per key, not one per request.
 */
export function createRateLimiter(deps: { db: Db; now?: () => number; flushMs?: number }) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const flushMs = deps.flushMs ?? 200;
  const counters = new Map<string, Counter>();

  async function upsert(key: string, add: number, windowStart: number, resetAt: number): Promise<number> {
    const rows = await db.prisma.$queryRaw<{ count: number }[]>`
      INSERT INTO rate_limit ("key", "count", "resetAt") VALUES (${key}, ${add}, ${new Date(resetAt)})
      ON CONFLICT ("key") DO UPDATE SET
        "count" = CASE WHEN rate_limit."resetAt" <= ${new Date(windowStart)} THEN EXCLUDED."count" ELSE rate_limit."count" + EXCLUDED."count" END,
        "resetAt" = CASE WHEN rate_limit."resetAt" <= ${new Date(windowStart)} THEN EXCLUDED."resetAt" ELSE rate_limit."resetAt" END
      RETURNING "count"`;
    return Number(rows[0]?.count ?? add);
  }

  function scheduleFlush(key: string, c: Counter) {
    if (c.flushing) return;
    c.flushing = new Promise<void>((resolve) => {
      setTimeout(async () => {
        const add = c.pending;
        c.pending = 0;
        try {
          if (add > 0) c.shared = await upsert(key, add, c.windowStart, c.resetAt);
        } catch {
          c.pending += add;
        }
        c.flushing = undefined;
        resolve();
      }, flushMs).unref();
    });
  }

  return {
    /**
     * Counts one hit; returns the count in this window and the seconds until it resets. Only the
     * first hit of a window waits for Postgres; the rest answer synchronously (the hot path).
     */
    hit(key: string, limit: Limit): Hit | Promise<Hit> {
      const t = now();
      const windowMs = limit.windowSeconds * 1000;
      const windowStart = Math.floor(t / windowMs) * windowMs;
      let c = counters.get(key);
      if (!c || c.windowStart !== windowStart) {
        if (counters.size > 50_000) counters.clear();
        c = { windowStart, resetAt: windowStart + windowMs, shared: 0, pending: 0 };
        counters.set(key, c);
        const counter = c;
        return upsert(key, 1, windowStart, c.resetAt).then((shared) => {
          counter.shared = shared;
          return { count: counter.shared + counter.pending, retryAfter: (counter.resetAt - t) / 1000 };
        });
      }
      c.pending++;
      scheduleFlush(key, c);
      return { count: c.shared + c.pending, retryAfter: (c.resetAt - t) / 1000 };
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;

export interface EndpointLimits {
  perIp: Limit;
  perClient?: Limit;
}

/** Defaults per endpoint; `AppDeps.rateLimits` overrides them (the benchmark raises them). */
export const DEFAULT_RATE_LIMITS: Record<"token" | "par" | "register" | "introspect" | "revoke", EndpointLimits> = {
  token: { perIp: { max: 3000, windowSeconds: 10 }, perClient: { max: 2000, windowSeconds: 10 } },
  introspect: { perIp: { max: 5000, windowSeconds: 10 }, perClient: { max: 4000, windowSeconds: 10 } },
  revoke: { perIp: { max: 600, windowSeconds: 10 }, perClient: { max: 300, windowSeconds: 10 } },
  par: { perIp: { max: 600, windowSeconds: 10 }, perClient: { max: 300, windowSeconds: 10 } },
  register: { perIp: { max: 30, windowSeconds: 60 } },
};

const tooMany = (hit: Hit, limit: Limit) =>
  hit.count > limit.max ? new TooManyRequestsError("Too many requests; slow down and retry later", hit.retryAfter) : undefined;

/** Counts a hit on `key`; resolves to the 429 error when it is over `limit`, synchronously when it can. */
function check(limiter: RateLimiter, key: string, limit: Limit): TooManyRequestsError | undefined | Promise<TooManyRequestsError | undefined> {
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
    const result = check(limiter, `${name}:ip:${request.ip}`, limit);
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
    return check(limiter, `${name}:client:${request.client.id}`, limit);
  };
}
