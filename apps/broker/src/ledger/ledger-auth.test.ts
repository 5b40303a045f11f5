import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from "fastify";
import { describe, expect, it } from "vitest";
import { UnauthorizedError } from "../errors.ts";
import { ledgerAuth, tenantOf } from "./ledger-auth.ts";

/** A bearer check that accepts only `Bearer bank-a-token` (as bank-a), as requireScope would. */
const bearer: preHandlerHookHandler = (request, _reply, done) => {
  if (request.headers.authorization !== "Bearer bank-a-token") return done(new UnauthorizedError("access token is not valid", "invalid_token"));
  request.token = { clientId: "bank-a", scopes: ["ledger:check"] as readonly string[] } as FastifyRequest["token"];
  done();
};
const request = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as FastifyRequest;
/** Runs the hook as Fastify would: resolves when it lets the request through, rejects with its error. */
const run = (hook: ReturnType<typeof ledgerAuth>, req: FastifyRequest) =>
  new Promise<void>((resolve, reject) => hook.call({} as FastifyInstance, req, {} as FastifyReply, (error?: Error) => (error ? reject(error) : resolve())));
const staff = async () => ({ id: "staff-1" });
const noStaff = async () => undefined;

describe("ledger callers", () => {
  it("a bank's token makes the caller that bank, and its tenant filter", async () => {
    const req = request("Bearer bank-a-token");
    await run(ledgerAuth(bearer, staff), req);
    expect(req.ledgerCaller).toEqual({ role: "bank", clientId: "bank-a" });
    expect(tenantOf(req)).toEqual({ clientId: "bank-a" });
  });

  it("a staff session without an Authorization header is compliance: no tenant filter", async () => {
    const req = request();
    await run(ledgerAuth(bearer, staff), req);
    expect(req.ledgerCaller).toEqual({ role: "compliance" });
    expect(tenantOf(req)).toStrictEqual({});
  });

  it("a request with an Authorization header is judged by its token, even with a staff session", async () => {
    const req = request("Bearer forged");
    await expect(run(ledgerAuth(bearer, staff), req)).rejects.toMatchObject({ status: 401 });
    expect(req.ledgerCaller).toBeUndefined();
  });

  it("no staff session and no token: refused", async () => {
    const req = request();
    await expect(run(ledgerAuth(bearer, noStaff), req)).rejects.toMatchObject({ status: 401 });
    expect(req.ledgerCaller).toBeUndefined();
  });

  it("where staff sessions are not accepted, a staff session counts for nothing", async () => {
    const req = request();
    await expect(run(ledgerAuth(bearer), req)).rejects.toMatchObject({ status: 401 });
    expect(req.ledgerCaller).toBeUndefined();
  });

  it("a request no check has run on has no tenant filter to give", () => {
    expect(tenantOf(request())).toStrictEqual({});
  });
});
