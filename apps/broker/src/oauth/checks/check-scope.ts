import { InvalidScope } from "../../errors.ts";
import { ALL_SCOPES, isCustomerScope, isForbiddenPurpose, isServiceScope, parseScope } from "../scopes.ts";

/** Customer scopes for a link (PAR, /link): known, customer-only and registered for the client. */
export function checkCustomerScope(scope: unknown, registered: readonly string[]): string[] {
  if (typeof scope !== "string" || !scope.trim()) throw InvalidScope("scope is required");
  const scopes = parseScope(scope);
  for (const s of scopes) {
    if (isForbiddenPurpose(s)) throw InvalidScope(`${s} is never allowed`);
    if (!ALL_SCOPES.includes(s)) throw InvalidScope(`unknown scope ${s}`);
    if (!isCustomerScope(s)) throw InvalidScope(`${s} is a service scope, only for client_credentials`);
    if (!registered.includes(s)) throw InvalidScope(`${s} is not registered for this client`);
  }
  return scopes;
}

/**
 * optional_scope: customer scopes the client registered, checked as `scope` is, none of them
 * also required (a scope is either granted with the link or offered, not both).
 */
export function checkOptionalScope(optional: unknown, registered: readonly string[], required: readonly string[]): string[] {
  if (optional === undefined || optional === "") return [];
  if (typeof optional !== "string" || !optional.trim()) throw InvalidScope("optional_scope must be a space-separated string");
  const scopes = checkCustomerScope(optional, registered);
  const both = scopes.find((s) => required.includes(s));
  if (both) throw InvalidScope(`${both} is in both scope and optional_scope`);
  return scopes;
}

/** Service scopes for client_credentials; defaults to every service scope the client registered. */
export function checkServiceScope(scope: unknown, registered: readonly string[]): string[] {
  const allowed = registered.filter(isServiceScope);
  if (scope === undefined || scope === "") {
    if (allowed.length === 0) throw InvalidScope("this client has no service scope");
    return allowed;
  }
  if (typeof scope !== "string") throw InvalidScope("scope must be a string");
  const scopes = parseScope(scope);
  for (const s of scopes) {
    if (!isServiceScope(s)) throw InvalidScope(`${s} is not available with client_credentials (only ledger:check and ledger:audit)`);
    if (!allowed.includes(s)) throw InvalidScope(`${s} is not registered for this client`);
  }
  return scopes;
}

/** A refresh may narrow the grant's scopes, never widen them (RFC 6749 §6). */
export function checkNarrowedScope(scope: unknown, granted: readonly string[]): string[] {
  if (scope === undefined || scope === "") return [...granted];
  if (typeof scope !== "string") throw InvalidScope("scope must be a string");
  const scopes = parseScope(scope);
  for (const s of scopes) if (!granted.includes(s)) throw InvalidScope(`${s} was not granted`);
  return scopes;
}
