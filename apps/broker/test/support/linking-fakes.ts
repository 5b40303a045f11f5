import { randomUUID } from "node:crypto";
import type { Tx } from "@link-broker/db";
import type { preHandlerHookHandler } from "fastify";
import { hashToken, randomToken } from "../../src/crypto/hash.ts";
import { InvalidClient, OAuthError } from "../../src/errors.ts";
import type { GrantInput, IssueCodeInput, LedgerActor, LinkingDeps, LinkingLedger, LinkingOAuth, PushedRequest, ReconsentInput } from "../../src/linking/linking-deps.ts";

/**
 * Stand-ins for the OAuth server and the consent ledger, recording every call. The code fake
 * writes a real `authorization_code` row inside the caller's transaction (so a rollback takes it
 * away and its unique attemptId refuses a second code for one attempt).
 */
export function createFakeOAuth() {
  const pushed = new Map<string, PushedRequest & { clientId: string }>();
  const codes: (IssueCodeInput & { code: string })[] = [];
  const revoked: { linkId: string; reason: string }[] = [];
  const oauth: LinkingOAuth & {
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
      if (!entry || entry.clientId !== clientId) throw new OAuthError("invalid_request", "request_uri is unknown, expired or already used");
      pushed.delete(requestUri);
      const { clientId: _, ...request } = entry;
      return request;
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
    },
  };
  return oauth;
}

export function createFakeLedger() {
  const grants: (GrantInput & { consentId: string })[] = [];
  const renewals: ReconsentInput[] = [];
  const withdrawals: { consentId: string; actor: string; reason: string; alreadyWithdrawn: boolean }[] = [];
  const withdrawn = new Set<string>();
  let seq = 0;
  const ledger: LinkingLedger & { grants: typeof grants; renewals: typeof renewals; withdrawals: typeof withdrawals } = {
    grants,
    renewals,
    withdrawals,
    async grant(input) {
      const consentId = randomUUID();
      grants.push({ ...input, consentId });
      return { consentId, seq: ++seq, hash: hashToken(`${seq}`) };
    },
    async reconsent(input) {
      renewals.push(input);
      return { consentId: input.consentId, seq: ++seq, hash: hashToken(`${seq}`) };
    },
    async withdraw(input) {
      const alreadyWithdrawn = withdrawn.has(input.consentId);
      withdrawn.add(input.consentId);
      withdrawals.push({ ...input, alreadyWithdrawn });
      return { alreadyWithdrawn };
    },
    async endOf(consentId) {
      const last = withdrawals.findLast((w) => w.consentId === consentId);
      return last ? { state: "withdrawn", actor: last.actor as LedgerActor } : undefined;
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
  const deps: LinkingDeps = { oauth, ledger, clientAuth: fakeClientAuth };
  return { oauth, ledger, deps };
}
