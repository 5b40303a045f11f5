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
export function createClientAuth(deps: { authenticator: Pick<ClientAuthenticator, "authenticate" | "provenFromMemory">; publicUrl: string }) {
  const { authenticator } = deps;
  const inputOf = (request: FastifyRequest) => ({
    authorization: request.headers.authorization,
    body: (request.body && typeof request.body === "object" ? request.body : {}) as Record<string, unknown>,
  });

  /** What `clientAuth` does, for routes that run it inside a larger preHandler. */
  async function authenticateRequest(request: FastifyRequest): Promise<void> {
    request.client = await authenticator.authenticate(inputOf(request));
  }

  /**
   * Sets `request.client` and answers true when memory alone proves the client (a secret this
   * process already checked: authenticate-client.ts `provenFromMemory`); false: run
   * `authenticateRequest`, which decides. The hot paths skip its promises with it.
   */
  function authenticatedFromMemory(request: FastifyRequest): boolean {
    const client = authenticator.provenFromMemory(inputOf(request));
    if (client) request.client = client;
    return client !== undefined;
  }

  const clientAuth: preHandlerAsyncHookHandler = async function clientAuth(request) {
    await authenticateRequest(request);
  };
  return { clientAuth, authenticateRequest, authenticatedFromMemory };
}
