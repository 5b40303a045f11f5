// What the consent page offers and what an approval grants, from the link attempt: the required
// scopes' (scope, purpose) pairs always, an optional scope's only when the customer ticked it.
import { type CustomerScope, pairsFrom, type ScopePurpose } from "@link-broker/consent-ledger";
import type { LinkAttempt } from "@link-broker/db";

type Terms = Pick<LinkAttempt, "scopes" | "optionalScopes" | "purposes">;

/** Every pair the request offered (required and optional), by the ledger's pairing rule. */
function offeredPairs(a: Terms): ScopePurpose[] {
  return pairsFrom([...a.scopes, ...(a.optionalScopes ?? [])] as CustomerScope[], a.purposes);
}

/** The consent page's terms: each required and each optional scope with the purposes it is for. */
export function consentTerms(a: Terms): { required: ScopePurpose[]; optional: ScopePurpose[] } {
  const pairs = offeredPairs(a);
  const optional = a.optionalScopes ?? [];
  return { required: pairs.filter((p) => !optional.includes(p.scope)), optional: pairs.filter((p) => optional.includes(p.scope)) };
}

/**
 * The pairs an approval grants: the required ones and those of the ticked optional scopes.
 * undefined when `ticked` names a scope that was not offered as optional (a forged form).
 */
export function approvedPairs(a: Terms, ticked: readonly string[]): ScopePurpose[] | undefined {
  const optional = a.optionalScopes ?? [];
  if (ticked.some((s) => !optional.includes(s))) return undefined;
  const granted = new Set([...a.scopes, ...ticked]);
  return offeredPairs(a).filter((p) => granted.has(p.scope));
}
