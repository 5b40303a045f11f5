import { describe, expect, it } from "vitest";
import { clientOwnLimit, DEFAULT_RATE_LIMITS, parseClientRateLimits, parseLimit, parseRateLimits, lockoutHeaders, rateLimitFields, RateLimitsError } from "./rate-limit-policy.ts";

const error = (json: string) => {
  try {
    parseRateLimits(json);
  } catch (err) {
    if (err instanceof RateLimitsError) return err.message;
    throw err;
  }
  throw new Error("expected a RateLimitsError");
};

describe("parseLimit", () => {
  it("reads COUNT/WINDOW with the window in seconds, minutes or hours", () => {
    expect(parseLimit("3000/10s")).toEqual({ max: 3000, windowSeconds: 10 });
    expect(parseLimit("30/m")).toEqual({ max: 30, windowSeconds: 60 });
    expect(parseLimit("5/2h")).toEqual({ max: 5, windowSeconds: 7200 });
    expect(parseLimit("1/24h")).toEqual({ max: 1, windowSeconds: 86_400 });
  });

  it("refuses anything else", () => {
    for (const bad of ["", "3000", "3000/", "0/10s", "-1/10s", "10/0s", "10/10d", "10/25h", "1.5/10s", " 10/10s", "10/10s ", "1e3/10s", "10 / 10s"]) {
      expect(parseLimit(bad), bad).toBeUndefined();
    }
  });
});

describe("parseRateLimits", () => {
  it("answers the defaults when unset", () => {
    expect(parseRateLimits(undefined)).toEqual(DEFAULT_RATE_LIMITS);
  });

  it("merges each field over its endpoint's default, leaving the others alone", () => {
    const limits = parseRateLimits('{"token":{"per_ip":"9000/10s"},"link_2fa":{"per_ip":"100/5m","per_client":"3/m"}}');
    expect(limits.token).toEqual({ perIp: { max: 9000, windowSeconds: 10 }, perClient: DEFAULT_RATE_LIMITS.token.perClient });
    expect(limits.link_2fa).toEqual({ perIp: { max: 100, windowSeconds: 300 }, perClient: { max: 3, windowSeconds: 60 } });
    expect(limits.introspect).toEqual(DEFAULT_RATE_LIMITS.introspect);
    expect(limits.events_poll).toEqual(DEFAULT_RATE_LIMITS.events_poll);
    expect(Object.isFrozen(limits) && Object.isFrozen(limits.token)).toBe(true);
    // The defaults themselves are never changed by a merge.
    expect(DEFAULT_RATE_LIMITS.token.perIp).toEqual({ max: 3000, windowSeconds: 10 });
  });

  it("sets the consent-event poll's limits, over today's defaults (600/10s per IP, 300/10s per client)", () => {
    expect(DEFAULT_RATE_LIMITS.events_poll).toEqual({ perIp: { max: 600, windowSeconds: 10 }, perClient: { max: 300, windowSeconds: 10 } });
    expect(parseRateLimits('{"events_poll":{"per_client":"50/m"}}').events_poll).toEqual({ perIp: { max: 600, windowSeconds: 10 }, perClient: { max: 50, windowSeconds: 60 } });
    expect(error('{"events_poll":{"per_client":"often"}}')).toMatch(/^events_poll\.per_client must be "COUNT\/WINDOW"/);
  });

  it("says in one line what is wrong", () => {
    expect(error("{token:1}")).toMatch(/^is not valid JSON; e\.g\. /);
    expect(error("[]")).toMatch(/^must be a JSON object of endpoints/);
    expect(error('{"tokens":{}}')).toBe('unknown endpoint "tokens"; known: token, par, register, introspect, revoke, link, link_2fa, events_poll');
    expect(error('{"token":"3000/10s"}')).toBe("token must be an object with per_ip and/or per_client");
    expect(error('{"token":{"per_user":"1/s"}}')).toBe('token."per_user" is not a field; use per_ip or per_client');
    expect(error('{"token":{"per_ip":3000}}')).toMatch(/^token\.per_ip must be "COUNT\/WINDOW" such as "3000\/10s"/);
    expect(error('{"par":{"per_client":"10/10x"}}')).toMatch(/^par\.per_client must be/);
    expect(error('{"register":{"per_client":"10/m"}}')).toBe("register.per_client cannot be set: no client exists before registration");
    for (const json of ["{token:1}", '{"__proto__":{"per_ip":"1/s"}}', '{"a\\nb":{}}']) expect(error(json)).not.toContain("\n");
  });
});

describe("a client's own limits", () => {
  const clientError = (json: string) => {
    try {
      parseClientRateLimits(json);
    } catch (err) {
      if (err instanceof RateLimitsError) return err.message;
      throw err;
    }
    throw new Error("expected a RateLimitsError");
  };

  it("reads a per-client limit for each endpoint it names, as the operator wrote it", () => {
    expect(parseClientRateLimits('{"token":"5000/10s","link":"600/m","events_poll":"1/s"}')).toEqual({ token: "5000/10s", link: "600/m", events_poll: "1/s" });
    expect(parseClientRateLimits("{}")).toEqual({});
  });

  it("refuses, in one line, what registration or a link attempt counts, and any malformed limit", () => {
    expect(clientError('{"register":"1/s"}')).toBe('unknown endpoint "register"; a client\'s own limit can be set for token, par, introspect, revoke, link, events_poll');
    expect(clientError('{"link_2fa":"1/s"}')).toMatch(/^unknown endpoint "link_2fa"/);
    expect(clientError('{"token":{"per_client":"1/s"}}')).toMatch(/^token must be "COUNT\/WINDOW"/);
    expect(clientError('{"token":"lots"}')).toMatch(/^token must be "COUNT\/WINDOW"/);
    expect(clientError("[]")).toMatch(/^must be a JSON object/);
    expect(clientError("{")).toMatch(/^is not valid JSON/);
  });

  it("answers the stored limit of an endpoint, or nothing (the endpoint's per_client applies)", () => {
    expect(clientOwnLimit({ token: "5000/10s" }, "token")).toEqual({ max: 5000, windowSeconds: 10 });
    expect(clientOwnLimit({ token: "5000/10s" }, "token")).toEqual({ max: 5000, windowSeconds: 10 });
    expect(clientOwnLimit({ token: "5000/10s" }, "introspect")).toBeUndefined();
    for (const stored of [null, undefined, "token", [], { token: 5 }, { token: "bad" }]) expect(clientOwnLimit(stored, "token")).toBeUndefined();
  });
});

describe("rateLimitFields", () => {
  it("lists each limit that applied, in the draft's Structured Fields form", () => {
    const fields = rateLimitFields([
      { policy: "token-ip", limit: { max: 3000, windowSeconds: 10 }, count: 12, retryAfter: 7.2 },
      { policy: "token-client", limit: { max: 5, windowSeconds: 60 }, count: 9, retryAfter: 0.1 },
    ]);
    expect(fields).toEqual({ "ratelimit-policy": '"token-ip";q=3000;w=10, "token-client";q=5;w=60', ratelimit: '"token-ip";r=2988;t=8, "token-client";r=0;t=1' });
  });
});

describe("lockoutHeaders", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  it("says when the lock ends, in whole seconds rounded up, with no tries left", () => {
    expect(lockoutHeaders("second-factor", 5, 15 * 60_000, new Date(now.getTime() + 299_500), now)).toEqual({
      "retry-after": "300",
      "ratelimit-policy": '"second-factor";q=5;w=900',
      ratelimit: '"second-factor";r=0;t=300',
    });
  });
  it("never answers a retry in zero seconds, even for a lock that just ended", () => {
    expect(lockoutHeaders("console-password", 5, 900_000, now, now)["retry-after"]).toBe("1");
  });
});
