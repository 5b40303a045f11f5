// Who is calling the ledger routes, and which consents they may see.
//
// A bank calls with a broker access token carrying `ledger:check` or `ledger:audit` and sees only
// its own consents. Compliance staff see every bank's through a console session (signed in with
// password and TOTP); the operator's registration token is no compliance credential.
import type { TenantOptions } from "@link-broker/consent-ledger";
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";

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
export function ledgerAuth(bearer: preHandlerAsyncHookHandler, staffOf?: StaffOfRequest): preHandlerAsyncHookHandler {
  return async function ledgerAuthHook(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    if (staffOf && request.headers.authorization === undefined && (await staffOf(request))) {
      request.ledgerCaller = { role: "compliance" };
      return;
    }
    await bearer.call(this, request, reply);
    request.ledgerCaller = { role: "bank", clientId: request.token!.clientId };
  };
}

/** The tenant filter of the current request: a bank sees only its own consents. */
export function tenantOf(request: FastifyRequest): TenantOptions {
  const clientId = request.ledgerCaller?.clientId;
  return clientId === undefined ? {} : { clientId };
}
