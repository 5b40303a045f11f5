import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
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
 * preHandler: authenticates a registered client (client_secret_basic or private_key_jwt) and sets
 * `request.client`. Failures answer 401 invalid_client with WWW-Authenticate. It uses the
 * authenticator the OAuth module decorates the app with (`app.oauth`), so any route module can
 * simply write `preHandler: clientAuth`.
 */
export const clientAuth: preHandlerAsyncHookHandler = async function clientAuth(request) {
  await authenticateRequest(request);
};

/** What `clientAuth` does, for routes that run it inside a larger preHandler. */
export async function authenticateRequest(request: FastifyRequest): Promise<void> {
  const { oauth } = request.server;
  const body = (request.body && typeof request.body === "object" ? request.body : {}) as Record<string, unknown>;
  request.client = await oauth.authenticator.authenticate({
    authorization: request.headers.authorization,
    body,
  });
}
