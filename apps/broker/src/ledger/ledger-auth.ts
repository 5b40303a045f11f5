// Who is calling the ledger routes, and which consents they may see.
//
// A bank calls with a broker access token carrying `ledger:check` or `ledger:audit` and sees only
// its own consents. Compliance staff see every bank's through a console session (signed in with
// password and TOTP); the operator's registration token is no compliance credential.
import type { TenantOptions } from "@link-broker/consent-ledger";
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from "fastify";

export interface LedgerCaller {
  /** Set for a bank's token: the tenant filter. Unset for compliance: sees all. */
  clientId?: string;
  role: "compliance" | "bank";
}

declare module "fastify" {
  interface FastifyRequest {
    ledgerCaller?: LedgerCaller;
  }
}

/** The signed-in staff member behind a request's console session cookie, if any (the console module). */
export type StaffOfRequest = (request: FastifyRequest) => Promise<unknown | undefined>;

/**
 * preHandler: a broker access token that `bearer` accepts (the calling bank is the tenant), or,
 * where `staffOf` is given, a staff console session (compliance: sees all). A request that
 * carries an Authorization header is always judged by its token.
 */
export function ledgerAuth(bearer: preHandlerHookHandler, staffOf?: StaffOfRequest): preHandlerHookHandler {
  // Callback style, as `bearer` is: the hot path (a known bank token) costs no promise.
  return function ledgerAuthHook(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const asBank: HookHandlerDoneFunction = (error?: Error) => {
      if (!error) request.ledgerCaller = { role: "bank", clientId: request.token!.clientId };
      done(error);
    };
    if (staffOf && request.headers.authorization === undefined) {
      staffOf(request).then((staff) => {
        if (!staff) return bearer.call(this, request, reply, asBank);
        request.ledgerCaller = { role: "compliance" };
        done();
      }, done);
      return;
    }
    bearer.call(this, request, reply, asBank);
  };
}

/** The tenant filter of the current request: a bank sees only its own consents. */
export function tenantOf(request: FastifyRequest): TenantOptions {
  const clientId = request.ledgerCaller?.clientId;
  return clientId === undefined ? {} : { clientId };
}
