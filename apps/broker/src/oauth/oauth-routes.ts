import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerHookHandler } from "fastify";
import { Type } from "typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { InvalidClientMetadata, InvalidDpopProof, InvalidRequest, UnsupportedGrantType } from "../errors.ts";
import { endpointUrl } from "../plugins/client-auth.ts";
import { limitByClient, limitByIp, type RateLimiter } from "../plugins/rate-limit.ts";
import type { EndpointLimits } from "../plugins/rate-limit-policy.ts";
import { formBodyValidator, formContentTypeError, jsonContentTypeError, NO_STORE } from "./checks/check-form.ts";
import { ClientIdParams, ClientMetadataInput, ClientMetadataOutput } from "./clients/register-schemas.ts";
import type { ClientMetadata } from "./clients/validate-metadata.ts";
import type { RegistrationService } from "./clients/register-service.ts";
import { DPOP_ALGS, type DpopVerifier } from "./dpop/check-dpop.ts";
import { ASSERTION_ALGS } from "./clients/authenticate-client.ts";
import type { IntrospectionService } from "./introspect/introspect-service.ts";
import type { KeyStore } from "./keys/key-store.ts";
import type { ParService } from "./par/par-service.ts";
import { GRANT_TYPE_NAMES, type GrantHandler } from "./token/grants/grant-types.ts";
import { FormBody, IntrospectionResponseSchema, JwksSchema, MetadataSchema, ParResponseSchema, TokenResponseSchema } from "./oauth-schemas.ts";
import { ALL_SCOPES } from "./scopes.ts";

type Form = Record<string, string>;
/** The OAuth endpoints among BROKER_RATE_LIMITS' endpoints. */
export type OAuthEndpoint = "token" | "par" | "register" | "introspect" | "revoke";

/** What the OAuth endpoints use: the OAuth module's services, passed in by the module. */
export interface OAuthRoutesOptions {
  oauth: {
    keyStore: Pick<KeyStore, "jwks">;
    registration: Pick<RegistrationService, "checkInitialToken" | "register" | "read" | "update" | "remove">;
    par: Pick<ParService, "push">;
    grants: Record<string, GrantHandler>;
    dpop: Pick<DpopVerifier, "verify" | "nonce">;
    introspection: Pick<IntrospectionService, "introspect" | "revoke">;
    rateLimiter: RateLimiter;
    rateLimits: Readonly<Record<OAuthEndpoint, EndpointLimits>>;
    authenticateRequest(request: FastifyRequest): Promise<void>;
    authenticatedFromMemory(request: FastifyRequest): boolean;
  };
  publicUrl: string;
}
const oauth = { errorFormat: "oauth" as const };
/** What every form endpoint shares: OAuth errors, and FormBody checked in one loop. */
const formRoute = { config: oauth, validatorCompiler: formBodyValidator };

/**
 * The OAuth endpoints. Each is an ordered pipeline, as in node-oidc-provider:
 *   token:      rate limit (IP) → content type → form body → client auth → rate limit (client) → DPoP → grant
 *   par:        rate limit (IP) → content type → form body → client auth → rate limit (client) → link request checks
 *   introspect: rate limit (IP) → content type → form body → client auth → rate limit (client) → lookup
 *   register:   rate limit (IP) → JSON schema → initial / registration access token → metadata checks
 */
export const oauthRoutes: FastifyPluginAsync<OAuthRoutesOptions> = async (appBase, options) => {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { oauth: m, publicUrl } = options;
  const limits = m.rateLimits;
  const ip = (name: keyof typeof limits) => limitByIp(m.rateLimiter, name, limits[name].perIp);
  /** A JSON registration endpoint's onRequest: the IP limit, then the content type. */
  const ipJson = (name: keyof typeof limits) => limitByIp(m.rateLimiter, name, limits[name].perIp, jsonContentTypeError);
  /** A form endpoint's onRequest: the IP limit, then the content type. */
  const ipForm = (name: keyof typeof limits) => limitByIp(m.rateLimiter, name, limits[name].perIp, formContentTypeError);
  /**
   * Client authentication, then the per-client limit: one preHandler, so one hook stage. Callback
   * style: a client whose secret this process already checked passes without a promise.
   */
  const authenticated = (name: keyof typeof limits): preHandlerHookHandler => {
    const perClient = limitByClient(m.rateLimiter, name, limits[name].perClient);
    const limit = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
      let limited: ReturnType<typeof perClient>;
      try {
        limited = perClient(request, reply);
      } catch (error) {
        return done(error as Error);
      }
      if (limited instanceof Promise) limited.then((error) => done(error), done);
      else done(limited);
    };
    return (request, reply, done) => {
      if (m.authenticatedFromMemory(request)) return limit(request, reply, done);
      m.authenticateRequest(request).then(() => limit(request, reply, done), done);
    };
  };
  // Error responses get no-store from the error handler; successful ones set it here.
  const noStore: preHandlerHookHandler = (_request, reply, done) => {
    reply.headers(NO_STORE);
    done();
  };

  app.get("/.well-known/oauth-authorization-server", { schema: { response: { 200: MetadataSchema } }, config: oauth }, async () => ({
    issuer: publicUrl,
    authorization_endpoint: `${publicUrl}/link`,
    token_endpoint: `${publicUrl}/oauth/token`,
    jwks_uri: `${publicUrl}/jwks.json`,
    registration_endpoint: `${publicUrl}/connect/register`,
    pushed_authorization_request_endpoint: `${publicUrl}/par`,
    // Per client (require_pushed_authorization_requests, default true); not for every client.
    require_pushed_authorization_requests: false,
    introspection_endpoint: `${publicUrl}/oauth/introspect`,
    revocation_endpoint: `${publicUrl}/oauth/revoke`,
    scopes_supported: [...ALL_SCOPES],
    response_types_supported: ["code"],
    grant_types_supported: GRANT_TYPE_NAMES,
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "private_key_jwt"],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "private_key_jwt"],
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    revocation_endpoint_auth_methods_supported: ["client_secret_basic", "private_key_jwt"],
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    dpop_signing_alg_values_supported: DPOP_ALGS,
    service_documentation: `${publicUrl}/docs`,
  }));

  app.get("/jwks.json", { schema: { response: { 200: JwksSchema } }, config: oauth }, async (_request, reply) => {
    reply.header("cache-control", "public, max-age=60");
    return m.keyStore.jwks();
  });

  // ---------------------------------------------------------------- registration (RFC 7591 / 7592)
  const attachMetadataErrors = async (request: FastifyRequest) => {
    if (request.validationError) throw InvalidClientMetadata(request.validationError.message);
  };
  app.post(
    "/connect/register",
    { schema: { body: ClientMetadataInput, response: { 201: ClientMetadataOutput } }, attachValidation: true, config: oauth, onRequest: ipJson("register"), preHandler: noStore },
    async (request, reply) => {
      m.registration.checkInitialToken(request.headers.authorization);
      await attachMetadataErrors(request);
      const out = await m.registration.register(request.body as ClientMetadata);
      return reply.code(201).send(out);
    },
  );
  app.get("/connect/register/:client_id", { schema: { params: ClientIdParams, response: { 200: ClientMetadataOutput } }, config: oauth, onRequest: ip("register"), preHandler: noStore }, async (request) =>
    m.registration.read(request.params.client_id, request.headers.authorization),
  );
  app.put(
    "/connect/register/:client_id",
    { schema: { params: ClientIdParams, body: ClientMetadataInput, response: { 200: ClientMetadataOutput } }, attachValidation: true, config: oauth, onRequest: ipJson("register"), preHandler: noStore },
    async (request) => {
      await m.registration.read(request.params.client_id, request.headers.authorization);
      await attachMetadataErrors(request);
      return m.registration.update(request.params.client_id, request.headers.authorization, request.body as ClientMetadata);
    },
  );
  app.delete("/connect/register/:client_id", { schema: { params: ClientIdParams, response: { 204: Type.Null() } }, config: oauth, onRequest: ip("register") }, async (request, reply) => {
    await m.registration.remove(request.params.client_id, request.headers.authorization);
    return reply.code(204).send(null);
  });

  // ---------------------------------------------------------------- PAR (RFC 9126)
  app.post(
    "/par",
    { schema: { body: FormBody, response: { 201: ParResponseSchema } }, ...formRoute, onRequest: ipForm("par"), preHandler: authenticated("par") },
    async (request, reply) => reply.code(201).headers(NO_STORE).send(await m.par.push(request.client!, request.body as Form)),
  );

  // ---------------------------------------------------------------- token (RFC 6749, 7636, 9449)
  async function dpopKey(request: FastifyRequest): Promise<string | undefined> {
    const proof = request.headers.dpop;
    if (proof === undefined) {
      if (request.client!.dpopBound) throw InvalidDpopProof("this client must send a DPoP proof");
      return undefined;
    }
    const { jkt } = await m.dpop.verify({ proof, htm: "POST", htu: endpointUrl(publicUrl, request), requireNonce: true });
    return jkt;
  }
  app.post(
    "/oauth/token",
    { schema: { body: FormBody, response: { 200: TokenResponseSchema } }, ...formRoute, onRequest: ipForm("token"), preHandler: authenticated("token") },
    async (request, reply) => {
      reply.headers(NO_STORE);
      const body = request.body as Form;
      if (!body.grant_type) throw InvalidRequest("grant_type is required");
      const grant = Object.hasOwn(m.grants, body.grant_type) ? m.grants[body.grant_type] : undefined;
      if (!grant) throw UnsupportedGrantType(`grant_type ${body.grant_type.slice(0, 60)} is not supported`);
      const jkt = await dpopKey(request);
      if (jkt) reply.header("dpop-nonce", m.dpop.nonce());
      return grant({ client: request.client!, body, jkt });
    },
  );

  // ---------------------------------------------------------------- introspection (RFC 7662), revocation (RFC 7009)
  app.post(
    "/oauth/introspect",
    { schema: { body: FormBody, response: { 200: IntrospectionResponseSchema } }, ...formRoute, onRequest: ipForm("introspect"), preHandler: authenticated("introspect") },
    async (request, reply) => {
      reply.headers(NO_STORE);
      const { token } = request.body as Form;
      if (!token) throw InvalidRequest("token is required");
      return m.introspection.introspect(request.client!, token);
    },
  );
  app.post(
    "/oauth/revoke",
    { schema: { body: FormBody, response: { 200: Type.Object({}) } }, ...formRoute, onRequest: ipForm("revoke"), preHandler: authenticated("revoke") },
    async (request, reply) => {
      reply.headers(NO_STORE);
      const { token } = request.body as Form;
      if (!token) throw InvalidRequest("token is required");
      await m.introspection.revoke(request.client!, token);
      return {};
    },
  );
};
