import { createPublicKey, type JsonWebKey } from "node:crypto";
import type { Static } from "typebox";
import { checkUrl, isLoopbackUrl } from "../../config.ts";
import { type AddressPolicy, ipLiteralOf } from "../../net/address-policy.ts";
import { InvalidClientMetadata } from "../../errors.ts";
import { ALL_SCOPES, CUSTOMER_SCOPES, isForbiddenPurpose, parseScope, SCOPE_KINDS, type ScopeKind } from "../scopes.ts";
import { GRANT_TYPE_NAMES, GRANT_TYPES, scopeKindOf, type GrantType, type GrantTypeName } from "../token/grants/grant-types.ts";
import type { ClientMetadataInput } from "./register-schemas.ts";

export type ClientMetadata = Static<typeof ClientMetadataInput>;

export interface ValidatedMetadata {
  name: string;
  tokenEndpointAuthMethod: "client_secret_basic" | "private_key_jwt";
  jwks: { keys: Record<string, unknown>[] } | null;
  jwksUri: string | null;
  /** RFC 8935 push endpoint for consent events. */
  eventsUri: string | null;
  grantTypes: string[];
  scopes: string[];
  requirePar: boolean;
  dpopBound: boolean;
  extra: Record<string, unknown>;
}

const EXTRA_FIELDS = ["client_uri", "logo_uri", "tos_uri", "policy_uri", "contacts", "software_id", "software_version"] as const;
const SECRET_FIELDS = new Set(["page_access_token", "app_secret", "verify_token", "client_secret"]);

/**
 * Every string the client supplied except its secrets and its keys (random base64), for the
 * "never advertising, marketing or profiling" rule.
 */
function publicStrings(value: unknown, out: string[] = [], key = ""): string[] {
  if (key === "jwks") return out;
  if (typeof value === "string" && !SECRET_FIELDS.has(key)) out.push(value);
  else if (Array.isArray(value)) for (const v of value) publicStrings(v, out, key);
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) publicStrings(v, out, k);
  return out;
}

function url(field: string, value: string, production: boolean): string {
  const checked = checkUrl(value, production);
  if (typeof checked === "string") throw InvalidClientMetadata(`${field} ${checked}`);
  return checked.href;
}

/**
 * A URL the broker will fetch: refused at once when it names an internal address outright (the
 * fetch would refuse it anyway, at connect time, which also covers names that resolve inside).
 */
function fetchedUrl(field: string, value: string, production: boolean, addresses: AddressPolicy): string {
  const href = url(field, value, production);
  const parsed = new URL(href);
  const literal = ipLiteralOf(parsed.hostname) ?? (isLoopbackUrl(parsed) ? "127.0.0.1" : undefined);
  if (literal !== undefined && !addresses.allows(literal)) throw InvalidClientMetadata(`${field} names an internal address the broker does not connect to`);
  return href;
}

/**
 * The checks registration runs, in order. Each failure is invalid_client_metadata with a
 * description naming the field.
 */
export function validateMetadata(meta: ClientMetadata, production: boolean, addresses: AddressPolicy): ValidatedMetadata {
  if (publicStrings(meta).some(isForbiddenPurpose)) throw InvalidClientMetadata("advertising, marketing and profiling are refused everywhere: no scope, purpose or field may name them");

  const scopeList = parseScope(meta.scope);
  for (const s of scopeList) {
    if (isForbiddenPurpose(s)) throw InvalidClientMetadata(`scope ${s} is refused everywhere`);
    if (!ALL_SCOPES.includes(s)) throw InvalidClientMetadata(`unknown scope ${s}`);
  }
  const grantTypes = meta.grant_types ? [...new Set(meta.grant_types)] : undefined;
  const row = (g: GrantTypeName): GrantType => GRANT_TYPES[g];
  const issues = (kind: ScopeKind, list: readonly GrantTypeName[]) => list.some((g) => row(g).issues === kind);
  const servicesOnly = grantTypes !== undefined && issues("service", grantTypes) && !issues("customer", grantTypes);
  const scopes = scopeList.length > 0 ? scopeList : servicesOnly ? ["ledger:check"] : [...CUSTOMER_SCOPES];
  const held = (kind: ScopeKind) => scopes.some(SCOPE_KINDS[kind].is);
  // Unnamed grant types: every one that gives the client a kind of scope it holds.
  const grants: GrantTypeName[] = grantTypes ?? GRANT_TYPE_NAMES.filter((g) => {
    const kind = scopeKindOf(g);
    return kind !== undefined && held(kind);
  });
  for (const kind of Object.keys(SCOPE_KINDS) as ScopeKind[]) {
    const issuer = GRANT_TYPE_NAMES.find((g) => row(g).issues === kind)!;
    if (held(kind) && !issues(kind, grants)) throw InvalidClientMetadata(`${SCOPE_KINDS[kind].names} need the ${issuer} grant type`);
  }
  for (const g of grants) {
    const { issues: kind, onlyWithItsScopes, requires } = row(g);
    if (onlyWithItsScopes && kind && !held(kind)) throw InvalidClientMetadata(`${g} is only for ${SCOPE_KINDS[kind].names}`);
    if (requires && !grants.includes(requires as GrantTypeName)) throw InvalidClientMetadata(`${g} needs the ${requires} grant type`);
  }

  const method = meta.token_endpoint_auth_method ?? "client_secret_basic";
  if (meta.jwks && meta.jwks_uri) throw InvalidClientMetadata("jwks and jwks_uri are mutually exclusive");
  if (method === "private_key_jwt" && !meta.jwks && !meta.jwks_uri) throw InvalidClientMetadata("private_key_jwt needs jwks or jwks_uri");
  if (meta.jwks) {
    if (meta.jwks.keys.length === 0) throw InvalidClientMetadata("jwks has no keys");
    for (const jwk of meta.jwks.keys) {
      if ("d" in jwk || "k" in jwk) throw InvalidClientMetadata("jwks must hold public keys only");
      try {
        createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
      } catch {
        throw InvalidClientMetadata("jwks holds a key that is not a valid public JWK");
      }
    }
  }
  const jwksUri = meta.jwks_uri ? fetchedUrl("jwks_uri", meta.jwks_uri, production, addresses) : null;
  // The broker POSTs consent events here: the same address rules as every URL it fetches.
  const eventsUri = meta.events_uri ? fetchedUrl("events_uri", meta.events_uri, production, addresses) : null;

  const extra: Record<string, unknown> = {};
  for (const field of EXTRA_FIELDS) {
    const value = meta[field];
    if (value === undefined) continue;
    extra[field] = field.endsWith("_uri") ? url(field, value as string, production) : value;
  }
  if (meta.bank_idp) fetchedUrl("bank_idp.issuer", meta.bank_idp.issuer, production, addresses);

  return {
    name: meta.client_name ?? "",
    tokenEndpointAuthMethod: method,
    jwks: meta.jwks ? { keys: meta.jwks.keys } : null,
    jwksUri,
    eventsUri,
    grantTypes: grants,
    scopes,
    requirePar: meta.require_pushed_authorization_requests ?? true,
    dpopBound: meta.dpop_bound_access_tokens ?? false,
    extra,
  };
}
