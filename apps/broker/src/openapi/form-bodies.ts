// What the OAuth form endpoints take, for the OpenAPI document and the clients generated from it.
// The routes validate every form against FormBody (oauth-schemas.ts) in one loop; the grant and
// endpoint checks then read these fields.
import { Type, type TSchema } from "typebox";

const ClientAuthFields = {
  client_id: Type.Optional(Type.String({ description: "With private_key_jwt: the client's id." })),
  client_assertion_type: Type.Optional(Type.Literal("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")),
  client_assertion: Type.Optional(Type.String({ description: "With private_key_jwt: the signed client assertion (RFC 7523)." })),
};

export const TokenForm = Type.Object(
  {
    grant_type: Type.Union([Type.Literal("authorization_code"), Type.Literal("refresh_token"), Type.Literal("client_credentials")]),
    code: Type.Optional(Type.String({ description: "authorization_code: the code from Messenger's account_linking webhook." })),
    code_verifier: Type.Optional(Type.String({ description: "authorization_code: the PKCE verifier (S256)." })),
    refresh_token: Type.Optional(Type.String({ description: "refresh_token: the refresh token." })),
    scope: Type.Optional(Type.String({ description: "client_credentials: space-separated service scopes (ledger:check, ledger:audit)." })),
    ...ClientAuthFields,
  },
  { additionalProperties: false },
);

export const ParForm = Type.Object(
  {
    scope: Type.String({ description: "Space-separated customer scopes the link needs." }),
    optional_scope: Type.Optional(Type.String({ description: "Scopes offered unticked on the consent page." })),
    code_challenge: Type.String({ description: "PKCE S256 challenge." }),
    code_challenge_method: Type.Literal("S256"),
    purpose: Type.Optional(Type.String({ description: "Space-separated purposes; default: each scope's own." })),
    consent_duration_days: Type.Optional(Type.String({ pattern: "^[0-9]{1,4}$" })),
    state: Type.Optional(Type.String()),
    ...ClientAuthFields,
  },
  { additionalProperties: false },
);

export const TokenOnlyForm = Type.Object(
  {
    token: Type.String({ description: "An access or refresh token this client was issued." }),
    token_type_hint: Type.Optional(Type.Union([Type.Literal("access_token"), Type.Literal("refresh_token")])),
    ...ClientAuthFields,
  },
  { additionalProperties: false },
);

/** Documented bodies of the form endpoints, by "METHOD /path". */
export const FORM_BODIES: Record<string, TSchema> = {
  "POST /oauth/token": TokenForm,
  "POST /par": ParForm,
  "POST /oauth/introspect": TokenOnlyForm,
  "POST /oauth/revoke": TokenOnlyForm,
};

/** A Messenger webhook delivery (the route checks its signature over the raw bytes, then parses it). */
export const MessengerDelivery = Type.Object({
  object: Type.Optional(Type.String({ description: "`page`" })),
  entry: Type.Array(
    Type.Object({
      id: Type.Optional(Type.String()),
      time: Type.Optional(Type.Integer()),
      messaging: Type.Optional(
        Type.Array(
          Type.Object({
            sender: Type.Object({ id: Type.String({ description: "The PSID." }) }),
            recipient: Type.Optional(Type.Object({ id: Type.String() })),
            timestamp: Type.Optional(Type.Integer()),
            account_linking: Type.Optional(Type.Object({ status: Type.Union([Type.Literal("linked"), Type.Literal("unlinked")]), authorization_code: Type.Optional(Type.String()) })),
          }),
        ),
      ),
    }),
  ),
});

/** Bodies a route reads raw (no body schema of its own), documented as JSON. */
export const RAW_JSON_BODIES: Record<string, TSchema> = {
  "POST /messenger/webhook/:client_id": MessengerDelivery,
};
