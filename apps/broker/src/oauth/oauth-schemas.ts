import { Type } from "typebox";
import { FORM_LIMITS } from "./checks/check-form.ts";

/**
 * Form bodies of the OAuth endpoints: flat string parameters, each at most 4 KiB, at most 30 of
 * them. A repeated parameter arrives as an array and fails (RFC 6749 §3.1: no parameter twice).
 * For the OpenAPI document: the routes check it with `formBodyValidator`.
 */
export const FormBody = Type.Record(Type.String(), Type.String({ maxLength: FORM_LIMITS.maxValue }), {
  maxProperties: FORM_LIMITS.maxParams,
  propertyNames: { maxLength: FORM_LIMITS.maxName },
});


export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.String(),
  expires_in: Type.Integer(),
  scope: Type.String(),
  refresh_token: Type.Optional(Type.String()),
});

export const ParResponseSchema = Type.Object({ request_uri: Type.String(), expires_in: Type.Integer() });

export const IntrospectionResponseSchema = Type.Object({
  active: Type.Boolean(),
  scope: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  sub: Type.Optional(Type.String()),
  aud: Type.Optional(Type.String()),
  iss: Type.Optional(Type.String()),
  jti: Type.Optional(Type.String()),
  cnf: Type.Optional(Type.Object({ jkt: Type.String() })),
  link_id: Type.Optional(Type.String()),
  consent_id: Type.Optional(Type.String()),
});

export const JwksSchema = Type.Object({
  keys: Type.Array(Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String(), y: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String() })),
});

export const MetadataSchema = Type.Object({
  issuer: Type.String(),
  authorization_endpoint: Type.String(),
  token_endpoint: Type.String(),
  jwks_uri: Type.String(),
  registration_endpoint: Type.String(),
  pushed_authorization_request_endpoint: Type.String(),
  require_pushed_authorization_requests: Type.Boolean(),
  introspection_endpoint: Type.String(),
  revocation_endpoint: Type.String(),
  scopes_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  grant_types_supported: Type.Array(Type.String()),
  code_challenge_methods_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  token_endpoint_auth_signing_alg_values_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_signing_alg_values_supported: Type.Array(Type.String()),
  revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
  revocation_endpoint_auth_signing_alg_values_supported: Type.Array(Type.String()),
  dpop_signing_alg_values_supported: Type.Array(Type.String()),
  service_documentation: Type.String(),
});
