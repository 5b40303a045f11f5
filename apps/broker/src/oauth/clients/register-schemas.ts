import { Type } from "typebox";
import { GRANT_TYPE_NAMES, type GrantTypeName as GrantTypeNameType } from "../token/grants/grant-types.ts";

/** One of the grant type table's names (token/grants/grant-types.ts). */
const GrantTypeName = Type.Unsafe<GrantTypeNameType>({ type: "string", enum: GRANT_TYPE_NAMES });
const Str = (max = 500) => Type.String({ maxLength: max });
const Url = Type.String({ maxLength: 2000 });

export const MessengerInput = Type.Object({
  page_id: Type.String({ minLength: 1, maxLength: 100 }),
  page_access_token: Type.Optional(Str(1000)),
  app_secret: Type.Optional(Str(500)),
  verify_token: Type.Optional(Str(500)),
});
export const BankIdpInput = Type.Object({
  issuer: Url,
  client_id: Type.String({ minLength: 1, maxLength: 500 }),
  client_secret: Type.Optional(Str(1000)),
  token_endpoint_auth_method: Type.Optional(Type.Union([Type.Literal("client_secret_basic"), Type.Literal("client_secret_post")])),
});

/** RFC 7591 metadata the broker understands; other members are ignored (RFC 7591 §2). */
export const ClientMetadataInput = Type.Object(
  {
    client_id: Type.Optional(Str(200)),
    client_name: Type.Optional(Str(200)),
    token_endpoint_auth_method: Type.Optional(Type.Union([Type.Literal("client_secret_basic"), Type.Literal("private_key_jwt")])),
    jwks: Type.Optional(Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 10 }) })),
    jwks_uri: Type.Optional(Url),
    events_uri: Type.Optional(Url),
    grant_types: Type.Optional(Type.Array(GrantTypeName, { maxItems: GRANT_TYPE_NAMES.length })),
    response_types: Type.Optional(Type.Array(Type.Literal("code"), { maxItems: 1 })),
    scope: Type.Optional(Str(500)),
    require_pushed_authorization_requests: Type.Optional(Type.Boolean()),
    dpop_bound_access_tokens: Type.Optional(Type.Boolean()),
    client_uri: Type.Optional(Url),
    logo_uri: Type.Optional(Url),
    tos_uri: Type.Optional(Url),
    policy_uri: Type.Optional(Url),
    contacts: Type.Optional(Type.Array(Str(200), { maxItems: 10 })),
    software_id: Type.Optional(Str(200)),
    software_version: Type.Optional(Str(100)),
    messenger: Type.Optional(MessengerInput),
    bank_idp: Type.Optional(BankIdpInput),
  },
  { additionalProperties: true },
);

/** What registration answers; secrets of the extensions are never in it. */
export const ClientMetadataOutput = Type.Object({
  client_id: Type.String(),
  client_secret: Type.Optional(Type.String()),
  client_secret_expires_at: Type.Optional(Type.Integer()),
  client_id_issued_at: Type.Integer(),
  registration_access_token: Type.Optional(Type.String()),
  registration_client_uri: Type.String(),
  client_name: Type.String(),
  token_endpoint_auth_method: Type.String(),
  jwks: Type.Optional(Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) })),
  jwks_uri: Type.Optional(Type.String()),
  events_uri: Type.Optional(Type.String()),
  grant_types: Type.Array(Type.String()),
  response_types: Type.Array(Type.String()),
  scope: Type.String(),
  require_pushed_authorization_requests: Type.Boolean(),
  dpop_bound_access_tokens: Type.Boolean(),
  client_uri: Type.Optional(Type.String()),
  logo_uri: Type.Optional(Type.String()),
  tos_uri: Type.Optional(Type.String()),
  policy_uri: Type.Optional(Type.String()),
  contacts: Type.Optional(Type.Array(Type.String())),
  software_id: Type.Optional(Type.String()),
  software_version: Type.Optional(Type.String()),
  messenger: Type.Optional(Type.Object({ page_id: Type.String() })),
  bank_idp: Type.Optional(Type.Object({ issuer: Type.String(), client_id: Type.String(), token_endpoint_auth_method: Type.String() })),
});

export const ClientIdParams = Type.Object({ client_id: Type.String({ maxLength: 200 }) });
