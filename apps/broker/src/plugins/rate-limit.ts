import type { Db } from "@link-broker/db";
import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
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
    /** Counts one hit; returns the count in this window and the seconds until it resets. */
    async hit(key: string, limit: Limit): Promise<{ count: number; retryAfter: number }> {
      const t = now();
      const windowMs = limit.windowSeconds * 1000;
      const windowStart = Math.floor(t / windowMs) * windowMs;
      let c = counters.get(key);
      if (!c || c.windowStart !== windowStart) {
        if (counters.size > 50_000) counters.clear();
        c = { windowStart, resetAt: windowStart + windowMs, shared: 0, pending: 0 };
        counters.set(key, c);
        c.shared = await upsert(key, 1, windowStart, c.resetAt);
        return { count: c.shared + c.pending, retryAfter: (c.resetAt - t) / 1000 };
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

async function enforce(limiter: RateLimiter, key: string, limit: Limit) {
  const { count, retryAfter } = await limiter.hit(key, limit);
  if (count > limit.max) throw new TooManyRequestsError("Too many requests; slow down and retry later", retryAfter);
}

/** onRequest-style check keyed by the caller's IP. */
export function limitByIp(limiter: RateLimiter, name: string, limit: Limit) {
  return async (request: FastifyRequest) => enforce(limiter, `${name}:ip:${request.ip}`, limit);
}

/** preHandler keyed by the authenticated client; runs after client authentication. */
export function limitByClient(limiter: RateLimiter, name: string, limit: Limit | undefined): preHandlerAsyncHookHandler {
  return async (request) => {
    if (limit && request.client) await enforce(limiter, `${name}:client:${request.client.id}`, limit);
  };
}
