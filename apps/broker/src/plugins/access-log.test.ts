import type { FastifyReply, FastifyRequest } from "fastify";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { redactUrl } from "../logger.ts";
import { accessLine } from "./access-log.ts";

interface Case {
  id: string;
  method: string;
  url: string;
  ip: string | undefined;
  client?: string;
  statusCode: number;
  elapsedTime: number;
  upstreamMs?: number;
  refusal?: string;
}

/** The line pino itself writes for the same request: the shape operators and log shippers read. */
function pinoLine(c: Case, route: string): string {
  let out = "";
  const log = pino(
    { level: "info" },
    {
      write(line: string) {
        out = line;
      },
    },
  );
  log.info(
    {
      reqId: c.id,
      method: c.method,
      route,
      url: redactUrl(c.url),
      status: c.statusCode,
      ms: Math.round(c.elapsedTime * 100) / 100,
      client: c.client,
      ip: c.ip,
      ...(c.upstreamMs ? { upstream_ms: Math.round(c.upstreamMs * 100) / 100 } : {}),
      ...(c.refusal ? { error: c.refusal } : {}),
    },
    "request",
  );
  return out;
}

function ourLine(c: Case, route: string): string {
  const request = { id: c.id, method: c.method, url: c.url, ip: c.ip, client: c.client ? { id: c.client } : undefined, upstreamMs: c.upstreamMs ?? 0, refusal: c.refusal } as unknown as FastifyRequest;
  const reply = { statusCode: c.statusCode, elapsedTime: c.elapsedTime } as unknown as FastifyReply;
  return accessLine(request, reply, JSON.stringify(route), Date.now());
}

const withoutTime = (line: string) => {
  const { time, ...rest } = JSON.parse(line) as Record<string, unknown>;
  expect(typeof time).toBe("number");
  return rest;
};

describe("accessLine", () => {
  const cases: [string, Case, string][] = [
    ["a bank's /ledger/check", { id: "3f1c2a9e-8b7d-4e6f-9a0b-1c2d3e4f5a6b", method: "POST", url: "/ledger/check", ip: "127.0.0.1", client: "cl_8f7e6d5c", statusCode: 200, elapsedTime: 1.23456 }, "/ledger/check"],
    ["a refused request with time spent upstream", { id: "r-2", method: "GET", url: "/link/callback?code=abc&state=xyz&x=1", ip: "::1", statusCode: 400, elapsedTime: 12.5, upstreamMs: 7.891, refusal: "invalid_request" }, "/link/callback"],
    ["text a caller chose: quotes, backslashes, control and non-ASCII characters", { id: "r-3", method: "GET", url: '/nope/"quoted"\\back\u0001\u2028Zoë·銀行🏦\ud800', ip: "10.0.0.1", statusCode: 404, elapsedTime: 0.1 }, "(unmatched)"],
    ["a caller gone before the answer (no address)", { id: "r-4", method: "POST", url: "/oauth/token", ip: undefined, statusCode: 200, elapsedTime: 3 }, "/oauth/token"],
    ["a request refused before its timing started", { id: "r-6", method: "GET", url: "/%zz", ip: "127.0.0.1", statusCode: 400, elapsedTime: Number.NaN }, "(unmatched)"],
  ];

  it.each(cases)("writes what pino would, field for field and in the same order: %s", (_name, c, route) => {
    const ours = ourLine(c, route);
    const theirs = pinoLine(c, route);
    expect(ours.endsWith("}\n")).toBe(true);
    expect(withoutTime(ours)).toEqual(withoutTime(theirs));
    expect(Object.keys(JSON.parse(ours))).toEqual(Object.keys(JSON.parse(theirs)));
  });

  it("never writes a secret from the query string", () => {
    const line = ourLine({ id: "r-5", method: "GET", url: "/link/callback?code=SECRET-CODE&state=SECRET-STATE", ip: "127.0.0.1", statusCode: 302, elapsedTime: 1 }, "/link/callback");
    expect(line).not.toContain("SECRET");
    expect(JSON.parse(line).url).toBe("/link/callback?code=%5BRedacted%5D&state=%5BRedacted%5D");
  });
});
