// Who is calling the ledger routes, and which consents they may see.
//
// A bank calls with a broker access token carrying `ledger:check` or `ledger:audit` and sees only
// its own consents. Compliance sees every bank's: until the staff console exists, the operator's
// BROKER_REGISTRATION_TOKEN is the compliance credential for the read, verify and export routes.
import type { TenantOptions } from "@link-broker/consent-ledger";
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { Config } from "../config.ts";
import { constantEquals } from "../crypto/constant-equals.ts";

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

function isOperatorToken(request: FastifyRequest, config: Pick<Config, "registrationToken">): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(request.headers.authorization ?? "");
  return !!match && constantEquals(match[1]!, config.registrationToken);
}

/**
 * preHandler: a broker access token that `bearer` accepts (the calling bank is the tenant), or,
 * where `allowCompliance` is set, the operator's registration token (compliance: sees all).
 */
export function ledgerAuth(bearer: preHandlerAsyncHookHandler, config: Pick<Config, "registrationToken">, allowCompliance: boolean): preHandlerAsyncHookHandler {
  return async function ledgerAuthHook(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    if (allowCompliance && isOperatorToken(request, config)) {
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
