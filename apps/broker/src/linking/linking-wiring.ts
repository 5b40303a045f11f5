import { ACTORS, LedgerError, type ConsentLedger } from "@link-broker/consent-ledger";
import { InvalidRequest } from "../errors.ts";
import type { OAuthModule } from "../oauth/oauth-module.ts";
import { clientAuth } from "../plugins/client-auth.ts";
import { toPushedRequest } from "./link-params.ts";
import type { LedgerActor, LinkingDeps } from "./linking-deps.ts";

/** The linking flow's view of the broker's OAuth server and consent ledger (ARCHITECTURE.md). */
export function linkingDepsOf(oauth: OAuthModule, ledger: ConsentLedger): LinkingDeps {
  return {
    oauth: {
      async consumePushedRequest(clientId, requestUri) {
        const par = await oauth.consumePushedRequest(clientId, requestUri);
        if (!par) throw InvalidRequest("request_uri is unknown, expired, already used or not this bank's");
        return toPushedRequest(par);
      },
      issueAuthorizationCode: oauth.issueAuthorizationCode,
      async revokeGrantsOfLink(linkId, reason) {
        await oauth.revokeGrantsOfLink(linkId, reason);
      },
    },
    ledger: {
      grant: (input, { tx }) => ledger.grant(input, { tx }),
      reconsent: (input, { tx }) => ledger.reconsent(input, { tx }),
      async withdraw(input) {
        const result = await ledger.withdraw(input);
        return { alreadyWithdrawn: !result.changed };
      },
      async endOf(consentId) {
        let found: Awaited<ReturnType<ConsentLedger["get"]>>;
        try {
          found = await ledger.get(consentId);
        } catch (err) {
          if (err instanceof LedgerError) return undefined; // unknown consent
          throw err;
        }
        const { consent, entries } = found;
        if (consent.status === "active") return undefined;
        const withdrawn = entries.findLast((e) => e.action === "withdrawn");
        if (consent.status === "withdrawn" && withdrawn && (ACTORS as readonly string[]).includes(withdrawn.actor)) {
          return { state: "withdrawn", actor: withdrawn.actor as LedgerActor };
        }
        return { state: consent.status, actor: "system" };
      },
    },
    clientAuth,
    clients: { findById: (id) => oauth.clients.get(id) },
  };
}
