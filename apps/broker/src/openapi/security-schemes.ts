// The broker's authentication methods as OpenAPI security schemes, declared once, and which
// routes take which. A route may name its own with `schema.security`; otherwise the first entry
// of ROUTE_SECURITY whose pattern matches its "METHOD /path" applies, and a route matching none
// is public.

export const SECURITY_SCHEMES = {
  client_secret_basic: {
    type: "http",
    scheme: "basic",
    description: "Client authentication (RFC 6749 §2.3.1): the client_id and client_secret from registration, form-encoded, as HTTP Basic.",
  },
  private_key_jwt: {
    type: "openIdConnect",
    openIdConnectUrl: "/.well-known/oauth-authorization-server",
    description:
      "Client authentication with a signed assertion (RFC 7523, `private_key_jwt`): the form fields `client_id`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and `client_assertion`, a JWT signed with a key of the client's registered `jwks`, `aud` the issuer. Methods and algorithms are in the server metadata.",
  },
  bearer: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A broker access token (RFC 9068) with the scope the operation names, from the client_credentials grant.",
  },
  dpop: {
    type: "http",
    scheme: "DPoP",
    description:
      "A DPoP-bound access token (RFC 9449): `Authorization: DPoP <token>` and a `DPoP` proof header. A 401 with `WWW-Authenticate: DPoP error=\"use_dpop_nonce\"` carries a `DPoP-Nonce` to put in the next proof.",
  },
  initial_access_token: {
    type: "http",
    scheme: "bearer",
    description: "The operator's initial access token (`BROKER_REGISTRATION_TOKEN`, RFC 7591 §3).",
  },
  registration_access_token: {
    type: "http",
    scheme: "bearer",
    description: "The client's registration access token, answered once by `POST /connect/register` (RFC 7592).",
  },
  staff_session: {
    type: "apiKey",
    in: "cookie",
    name: "lb_staff",
    description: "A compliance staff session from the console's sign-in (password and TOTP); the cookie is `__Host-lb_staff` in production.",
  },
  messenger_verify_token: {
    type: "apiKey",
    in: "query",
    name: "hub.verify_token",
    description: "The `verify_token` of the client's `messenger` registration (Messenger's subscription handshake).",
  },
  messenger_signature: {
    type: "apiKey",
    in: "header",
    name: "X-Hub-Signature-256",
    description: "`sha256=` and the hex HMAC-SHA256 of the raw body under the page's app secret, as Messenger signs its deliveries.",
  },
} as const;

export type SecuritySchemeName = keyof typeof SECURITY_SCHEMES;
type Requirement = Partial<Record<SecuritySchemeName, string[]>>;

const CLIENT: Requirement[] = [{ client_secret_basic: [] }, { private_key_jwt: [] }];
const token = (scope: string): Requirement[] => [{ bearer: [scope] }, { dpop: [scope] }];

/** First match wins; patterns match "METHOD /path" with Fastify's `:param` segments. */
export const ROUTE_SECURITY: ReadonlyArray<readonly [RegExp, Requirement[]]> = [
  [/^POST \/connect\/register$/, [{ initial_access_token: [] }]],
  [/^\w+ \/connect\/register\/:client_id$/, [{ registration_access_token: [] }]],
  [/^POST \/(par|oauth\/token|oauth\/introspect|oauth\/revoke|events\/poll)$/, CLIENT],
  // GET and DELETE carry no body, so no client assertion: HTTP Basic only.
  [/^\w+ \/links(\/|$)/, [{ client_secret_basic: [] }]],
  [/^POST \/ledger\/check$/, token("ledger:check")],
  [/^GET \/ledger\/(verify|export)$/, [{ staff_session: [] }, { initial_access_token: [] }]],
  [/^GET \/ledger\/consents/, [...token("ledger:audit"), { staff_session: [] }, { initial_access_token: [] }]],
  [/^GET \/messenger\/webhook\/:client_id$/, [{ messenger_verify_token: [] }]],
  [/^POST \/messenger\/webhook\/:client_id$/, [{ messenger_signature: [] }]],
  [/^(GET|POST) \/console\/login$/, []],
  [/^\w+ \/console(\/|$)/, [{ staff_session: [] }]],
];

export function securityOf(method: string, url: string): Requirement[] | undefined {
  const key = `${method} ${url}`;
  for (const [pattern, requirement] of ROUTE_SECURITY) if (pattern.test(key)) return requirement;
  return undefined;
}
