// Who is calling the ledger routes, and which consents they may see.
//
// STAND-IN until the OAuth issue lands: the registration token (BROKER_REGISTRATION_TOKEN) acts
// as compliance staff and sees every bank's consents. The swap is:
//   preHandler: registrationTokenStandIn(config)  →  requireScope("ledger:check" | "ledger:audit")
//   tenantOf(request)                             →  { clientId: request.token.clientId }
// after which a bank's token sees only that bank's consents.
import type { TenantOptions } from "@link-broker/consent-ledger";
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { Config } from "../config.ts";
import { constantEquals } from "../crypto/constant-equals.ts";
import { UnauthorizedError } from "../errors.ts";

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

/** Bearer BROKER_REGISTRATION_TOKEN → compliance. Replace with requireScope once tokens exist. */
export function registrationTokenStandIn(config: Pick<Config, "registrationToken">): preHandlerAsyncHookHandler {
  return async function registrationTokenStandInHook(request: FastifyRequest, _reply: FastifyReply) {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match || !constantEquals(match[1]!, config.registrationToken)) {
      const e = new UnauthorizedError("A bearer token is required for the ledger API", "invalid_token");
      e.headers["www-authenticate"] = `Bearer realm="link-broker"`;
      throw e;
    }
    request.ledgerCaller = { role: "compliance" };
  };
}

/** The tenant filter of the current request: the one line to change when tokens exist. */
export function tenantOf(request: FastifyRequest): TenantOptions {
  const clientId = request.ledgerCaller?.clientId;
  return clientId === undefined ? {} : { clientId };
}
