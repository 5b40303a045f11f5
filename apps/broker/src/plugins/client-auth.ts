import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { ClientRow } from "../oauth/clients/client-repo.ts";
import type { ClientAuthenticator } from "../oauth/clients/authenticate-client.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated OAuth client, set by the client-auth preHandler. */
    client?: ClientRow;
  }
}

/** The absolute URL of the current endpoint, accepted as a client assertion `aud`. */
export const endpointUrl = (publicUrl: string, request: FastifyRequest) => `${publicUrl}${request.url.split("?")[0]}`;

/**
 * A preHandler that authenticates a registered client (client_secret_basic or private_key_jwt)
 * and sets `request.client`; failures answer 401 invalid_client with WWW-Authenticate.
 * Routes using it: `preHandler: clientAuth(authenticator, publicUrl)`.
 */
export function clientAuth(authenticator: ClientAuthenticator, publicUrl: string): preHandlerAsyncHookHandler {
  return async function clientAuthHook(request) {
    const body = (request.body && typeof request.body === "object" ? request.body : {}) as Record<string, unknown>;
    request.client = await authenticator.authenticate({
      authorization: request.headers.authorization,
      body,
      endpoint: endpointUrl(publicUrl, request),
    });
  };
}
