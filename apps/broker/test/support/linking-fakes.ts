import { randomUUID } from "node:crypto";
import type { Actor, GrantInput } from "@link-broker/consent-ledger";
import type { Tx } from "@link-broker/db";
import type { preHandlerHookHandler } from "fastify";
import type { LedgerPort, ModulePorts, OAuthPort } from "../../src/contracts.ts";
import { hashToken, randomToken } from "../../src/crypto/hash.ts";
import { InvalidClient } from "../../src/errors.ts";
import type { PushedRequest } from "../../src/linking/link-params.ts";
import type { AuthorizationCodeInput } from "../../src/oauth/token/issue-authorization-code.ts";

/**
 * Stand-ins for the OAuth server and the consent ledger, recording every call. The code fake
 * writes a real `authorization_code` row inside the caller's transaction (so a rollback takes it
 * away and its unique attemptId refuses a second code for one attempt).
 */
export function createFakeOAuth() {
  const pushed = new Map<string, PushedRequest & { clientId: string }>();
  const codes: (AuthorizationCodeInput & { code: string })[] = [];
  const revoked: { linkId: string; reason: string }[] = [];
  const oauth: OAuthPort & {
    push(clientId: string, request: Partial<PushedRequest>): string;
    codes: typeof codes;
    revoked: typeof revoked;
  } = {
    codes,
    revoked,
    push(clientId, request) {
      const requestUri = `urn:ietf:params:oauth:request_uri:${randomToken()}`;
      pushed.set(requestUri, {
        clientId,
        scopes: ["balance:read"],
        purposes: ["account_servicing"],
        codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        codeChallengeMethod: "S256",
        consentDurationDays: 30,
        ...request,
      });
      return requestUri;
    },
    async consumePushedRequest(clientId, requestUri) {
      const entry = pushed.get(requestUri);
      if (!entry || entry.clientId !== clientId) return undefined;
      pushed.delete(requestUri);
      return { scopes: entry.scopes, purposes: entry.purposes, code_challenge: entry.codeChallenge, code_challenge_method: "S256", consent_duration_days: entry.consentDurationDays };
    },
    async issueAuthorizationCode(tx: Tx, input) {
      const code = randomToken();
      await tx.authorizationCode.create({
        data: { codeHash: hashToken(code), clientId: input.clientId, linkId: input.linkId, attemptId: input.attemptId, consentId: input.consentId, subject: input.subject, scopes: input.scopes, codeChallenge: input.codeChallenge, expiresAt: new Date(Date.now() + 60_000) },
      });
      codes.push({ ...input, code });
      return code;
    },
    async revokeGrantsOfLink(linkId, reason) {
      revoked.push({ linkId, reason });
      return 1;
    },
  };
  return oauth;
}

export function createFakeLedger() {
  const grants: (GrantInput & { consentId: string })[] = [];
  const renewals: (GrantInput & { consentId: string })[] = [];
  const withdrawals: { consentId: string; actor: string; reason?: string; alreadyWithdrawn: boolean }[] = [];
  const withdrawn = new Set<string>();
  let seq = 0;
  const appended = (consentId: string, input: GrantInput) => ({
    consentId,
    seq: String(++seq),
    hash: hashToken(`${seq}`),
    scopes: input.scopes,
    purposes: input.purposes ?? [],
    expiresAt: input.expiresAt ?? new Date(Date.now() + 90 * 86_400_000),
  });
  const ledger: LedgerPort & { grants: typeof grants; renewals: typeof renewals; withdrawals: typeof withdrawals } = {
    grants,
    renewals,
    withdrawals,
    async grant(input) {
      const consentId = randomUUID();
      grants.push({ ...input, consentId });
      return appended(consentId, input);
    },
    async reconsent(input) {
      renewals.push(input);
      return appended(input.consentId, input);
    },
    async withdraw(input) {
      const alreadyWithdrawn = withdrawn.has(input.consentId);
      withdrawn.add(input.consentId);
      withdrawals.push({ consentId: input.consentId, actor: input.actor, reason: input.reason, alreadyWithdrawn });
      return { consentId: input.consentId, changed: !alreadyWithdrawn, state: "withdrawn", message: alreadyWithdrawn ? "no-op: already withdrawn" : "withdrawn" };
    },
    async endOf(consentId) {
      const last = withdrawals.findLast((w) => w.consentId === consentId);
      return last ? { state: "withdrawn", actor: last.actor as Actor } : undefined;
    },
    async inactiveAmong(consentIds) {
      return consentIds.filter((id) => withdrawn.has(id));
    },
  };
  return ledger;
}

/** Client authentication stand-in: `x-test-client-id` names the calling client. */
export const fakeClientAuth: preHandlerHookHandler = async (request) => {
  const id = request.headers["x-test-client-id"];
  if (typeof id !== "string" || !id) throw InvalidClient();
  (request as { client?: { id: string } }).client = { id };
};

export function fakeLinkingDeps() {
  const oauth = createFakeOAuth();
  const ledger = createFakeLedger();
  const deps: ModulePorts = { oauth, ledger, clientAuth: fakeClientAuth };
  return { oauth, ledger, deps };
}
