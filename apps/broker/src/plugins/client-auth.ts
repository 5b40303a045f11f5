import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { ClientAuthenticator } from "../oauth/clients/authenticate-client.ts";
import type { ClientRow } from "../oauth/clients/client-repo.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated OAuth client, set by the `clientAuth` preHandler. */
    client?: ClientRow;
  }
}

/** The absolute URL of the current endpoint (a DPoP proof's `htu`). */
export const endpointUrl = (publicUrl: string, request: FastifyRequest) => `${publicUrl}${request.url.split("?")[0]}`;

/**
 * Client authentication for routes: `clientAuth` is a preHandler that authenticates a registered
 * client (client_secret_basic or private_key_jwt) and sets `request.client`; failures answer 401
 * invalid_client with WWW-Authenticate. The OAuth module builds it and hands it to the routes
 * that need it (token, PAR, introspection, revocation, /links).
 */
export function createClientAuth(deps: { authenticator: Pick<ClientAuthenticator, "authenticate">; publicUrl: string }) {
  const { authenticator } = deps;

  /** What `clientAuth` does, for routes that run it inside a larger preHandler. */
  async function authenticateRequest(request: FastifyRequest): Promise<void> {
    const body = (request.body && typeof request.body === "object" ? request.body : {}) as Record<string, unknown>;
    request.client = await authenticator.authenticate({ authorization: request.headers.authorization, body });
  }

  const clientAuth: preHandlerAsyncHookHandler = async function clientAuth(request) {
    await authenticateRequest(request);
  };
  return { clientAuth, authenticateRequest };
}
