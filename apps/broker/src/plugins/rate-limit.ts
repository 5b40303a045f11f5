import type { FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import { TooManyRequestsError } from "../errors.ts";
import type { RateLimitRepo } from "./rate-limit-repo.ts";
import { clientOwnLimit, type Limit, policyMember, stateMember } from "./rate-limit-policy.ts";

export type { Limit } from "./rate-limit-policy.ts";

interface Counter {
  /** When this window ends (ms), as the database decided it. */
  resetAt: number;
  /** The shared count as last read from Postgres. */
  shared: number;
  /** Hits counted here and not yet written. */
  pending: number;
  /** Hits being written now: still counted until the write answers the shared count with them. */
  writing: number;
  /** The first hit's round trip, while the window is being opened. */
  opening?: Promise<void>;
  flushing?: boolean;
}

export interface Hit {
  count: number;
  retryAfter: number;
}

/** Told of each limit counted for a request, so its answer can carry the RateLimit fields. */
export type LimitCounted = (policy: string, limit: Limit, hit: Hit) => void;

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
      const t = now();
      // Hits of a window that has ended are dropped: writing them now would open the next window
      // with them (the database starts one at the first write after the end).
      const add = c.resetAt > t ? c.pending : 0;
      c.pending = 0;
      c.writing = add;
      try {
        if (add > 0) c.shared = (await repo.add(key, add, new Date(t), windowMs)).count;
      } catch {
        c.pending += add;
      }
      c.writing = 0;
      c.flushing = false;
    }, flushMs).unref();
  }

  const answer = (c: Counter, t: number): Hit => ({ count: c.shared + c.writing + c.pending, retryAfter: Math.max(0, c.resetAt - t) / 1000 });

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
        const counter: Counter = { resetAt: t + windowMs, shared: 0, pending: 0, writing: 0 };
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

const tooMany = (hit: Hit, limit: Limit) =>
  hit.count > limit.max ? new TooManyRequestsError("Too many requests; slow down and retry later", hit.retryAfter) : undefined;

/**
 * Adds one limit's state to the answer's RateLimit-Policy and RateLimit fields (a list: the
 * per-IP limit first, then the per-client one).
 */
export function addRateLimitHeaders(reply: FastifyReply, policy: string, limit: Limit, hit: Hit): void {
  const member = policyMember(policy, limit);
  const state = stateMember(policy, limit, hit.count, hit.retryAfter);
  const policies = reply.getHeader("ratelimit-policy");
  const states = reply.getHeader("ratelimit");
  reply.header("ratelimit-policy", policies ? `${policies}, ${member}` : member);
  reply.header("ratelimit", states ? `${states}, ${state}` : state);
}

function judge(reply: FastifyReply, policy: string, limit: Limit, hit: Hit): TooManyRequestsError | undefined {
  addRateLimitHeaders(reply, policy, limit, hit);
  return tooMany(hit, limit);
}

/**
 * Counts a hit on `key`, adds the RateLimit fields to `reply`, and answers the 429 error when it
 * is over `limit`: synchronously when it can.
 */
export function checkLimit(limiter: RateLimiter, key: string, policy: string, limit: Limit, reply: FastifyReply): TooManyRequestsError | undefined | Promise<TooManyRequestsError | undefined> {
  const hit = limiter.hit(key, limit);
  return hit instanceof Promise ? hit.then((h) => judge(reply, policy, limit, h)) : judge(reply, policy, limit, hit);
}

/**
 * onRequest hook keyed by the caller's IP, before the body is read. `then` runs after the count
 * (so refused requests count too) and may refuse the request from its headers: one hook stage
 * instead of two. Callback style: the common case never waits, so it costs no promise. Without a
 * limit only `then` runs.
 */
export function limitByIp(limiter: RateLimiter, name: string, limit: Limit | undefined, then?: (request: FastifyRequest) => Error | undefined): onRequestHookHandler {
  const policy = `${name}-ip`;
  const keyPrefix = `${name}:ip:`;
  return (request, reply, done) => {
    if (!limit) return done(then?.(request));
    const result = checkLimit(limiter, keyPrefix + request.ip, policy, limit, reply);
    if (result instanceof Promise) result.then((err) => done(err ?? then?.(request)), done);
    else done(result ?? then?.(request));
  };
}

/**
 * Keyed by the authenticated client; runs right after client authentication. The client's own
 * limit for `name`, when the operator set one, replaces `limit`. Answers the 429 error, or
 * undefined, synchronously unless the window is new in this process.
 */
export function limitByClient(limiter: RateLimiter, name: string, limit: Limit | undefined) {
  const policy = `${name}-client`;
  const keyPrefix = `${name}:client:`;
  return (request: FastifyRequest, reply: FastifyReply): TooManyRequestsError | undefined | Promise<TooManyRequestsError | undefined> => {
    if (!request.client) return undefined;
    const rule = clientOwnLimit(request.client.rateLimits, name) ?? limit;
    if (!rule) return undefined;
    return checkLimit(limiter, keyPrefix + request.client.id, policy, rule, reply);
  };
}
