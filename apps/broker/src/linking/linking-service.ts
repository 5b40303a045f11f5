import { randomUUID } from "node:crypto";
import type { Client, LinkAttempt } from "@link-broker/db";
import type { Clock } from "../clock.ts";
import { checkUrl, type Config } from "../config.ts";
import type { ClientLookup, LedgerPort, OAuthPort } from "../contracts.ts";
import { constantEquals } from "../crypto/constant-equals.ts";
import { hashToken } from "../crypto/hash.ts";
import type { Sealer } from "../crypto/seal.ts";
import { OAuthError, type PageError } from "../errors.ts";
import type { LinksRepo } from "../links/links-repo.ts";
import { GraphError, type GraphClient } from "../messenger/graph-client.ts";
import { messengerSettings } from "../messenger/messenger-secrets.ts";
import { type AttemptBinding, bindingMatches, newBinding } from "./attempt-cookie.ts";
import { BankIdpError, bankIdpSettings, type AuthorizationRequest, type BankIdp } from "./bank-idp.ts";
import { ATTEMPT_TTL_MS, AttemptStateError } from "./link-attempt.ts";
import type { LinkAttemptRepo } from "./link-attempt-repo.ts";
import { approvedPairs } from "./consent-terms.ts";
import { checkRedirectUri, LinkParamError, messengerReturnUrl, parsePlainRequest, toPushedRequest, type PushedRequest } from "./link-params.ts";
import { Errors } from "./linking-errors.ts";
import type { LimitCounted, RateLimiter } from "../plugins/rate-limit.ts";
import { clientOwnLimit, type EndpointLimits } from "../plugins/rate-limit-policy.ts";
import type { TotpService } from "./totp-service.ts";
import type { UpstreamMeter } from "../net/upstream-meter.ts";

export interface StartQuery {
  client_id?: string;
  request_uri?: string;
  scope?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  purpose?: string;
  consent_duration_days?: string;
  account_linking_token?: string;
  redirect_uri?: string;
}

export interface LinkingServiceDeps {
  config: Pick<Config, "messengerRedirectAllowlist" | "production">;
  clock: Clock;
  sealer: Sealer;
  clients: ClientLookup;
  attempts: LinkAttemptRepo;
  links: Pick<LinksRepo, "activate" | "setConsent">;
  graph: GraphClient;
  bankIdp: BankIdp;
  totp: TotpService;
  oauth: Pick<OAuthPort, "consumePushedRequest" | "issueAuthorizationCode">;
  ledger: Pick<LedgerPort, "grant" | "reconsent">;
  /** Counts /link starts per client before the Graph call (the one rate limiter, shared through Postgres). */
  rateLimiter: Pick<RateLimiter, "hit">;
  linkLimits: LinkLimits;
}

/**
 * /link starts per caller address (the route) and per client (here): BROKER_RATE_LIMITS' `link`.
 * Each start costs a Graph call on the bank's page token, so a flood of bogus
 * account_linking_tokens stops first.
 */
export type LinkLimits = EndpointLimits;

export const nonceContext = (attemptId: string) => `link_attempt:${attemptId}:oidc_nonce`;
export const verifierContext = (attemptId: string) => `link_attempt:${attemptId}:oidc_verifier`;

function retryAfter(error: PageError, seconds: number): PageError {
  error.headers["retry-after"] = String(Math.max(1, Math.ceil(seconds)));
  return error;
}

/** The steps of DESIGN.md "The linking flow"; routes only parse, call one step and render. */
export function createLinkingService(deps: LinkingServiceDeps) {
  const { config, clock, sealer, clients, attempts, graph, bankIdp, totp, oauth, ledger } = deps;

  const withReturn = (error: PageError, attempt: Pick<LinkAttempt, "redirectUri"> | undefined) => {
    if (attempt) error.returnUrl = messengerReturnUrl(attempt.redirectUri);
    return error;
  };

  function mapStateError(err: unknown, attempt?: LinkAttempt): never {
    if (err instanceof AttemptStateError) {
      if (err.reason === "expired") throw withReturn(Errors.expired(), attempt);
      if (err.reason === "not_found") throw Errors.noSession();
      throw withReturn(Errors.wrongStep(), attempt);
    }
    throw err;
  }

  async function loadClient(clientId: string | undefined): Promise<Client> {
    if (!clientId || clientId.length > 200) throw Errors.unknownClient();
    const client = await clients.get(clientId);
    if (!client || client.deletedAt) throw Errors.unknownClient();
    return client;
  }

  /** The attempt this browser holds, checked against its cookie and its expected state. */
  async function attemptFor(binding: AttemptBinding | undefined, expected: LinkAttempt["state"]): Promise<LinkAttempt> {
    if (!binding) throw Errors.noSession();
    const attempt = await attempts.find(binding.attemptId);
    if (!attempt || !bindingMatches(binding, attempt.bindingHash)) throw Errors.noSession();
    if (attempt.state === expected && attempt.expiresAt <= clock.now()) throw withReturn(Errors.expired(), attempt);
    if (attempt.state !== expected) throw withReturn(attempt.expiresAt <= clock.now() ? Errors.expired() : Errors.wrongStep(), attempt);
    return attempt;
  }

  async function clientOf(attempt: LinkAttempt): Promise<Client> {
    const client = await clients.get(attempt.clientId);
    if (!client || client.deletedAt) throw withReturn(Errors.unknownClient(), attempt);
    return client;
  }

  return {
    attemptFor,

    /**
     * GET /link: checks everything Messenger and the bank sent, then sends the browser to the bank.
     * `counted` hears the per-client limit's state, for the answer's RateLimit fields (the route adds them);
     * `meter` times the waits on the bank's IdP, for the access log.
     */
    async start(query: StartQuery, requestId: string, counted?: LimitCounted, meter?: UpstreamMeter): Promise<{ cookie: string; location: string }> {
      const client = await loadClient(query.client_id);
      const messenger = messengerSettings(client, sealer);
      const bank = bankIdpSettings(client, sealer);
      if (!messenger || !bank) throw Errors.clientNotReady();

      const redirect = checkRedirectUri(query.redirect_uri, config.messengerRedirectAllowlist, config.production);
      if (!redirect) throw Errors.badRedirect();
      const back = { redirectUri: redirect.href };

      const token = query.account_linking_token;
      if (!token || token.length > 1024) throw withReturn(Errors.missingToken(), back);

      let request: PushedRequest;
      try {
        if (query.request_uri) {
          if (query.request_uri.length > 512) throw new LinkParamError("request_uri is too long");
          const pushed = await oauth.consumePushedRequest(client.id, query.request_uri);
          if (!pushed) throw new LinkParamError("request_uri is unknown, expired, already used or not this bank's");
          request = toPushedRequest(pushed);
        } else if (client.requirePar) {
          throw new LinkParamError("this bank requires a pushed authorization request (request_uri)");
        } else {
          request = parsePlainRequest(query, client);
        }
      } catch (err) {
        if (err instanceof LinkParamError) throw withReturn(Errors.badRequest(err.message), back);
        if (err instanceof OAuthError) throw withReturn(Errors.badRequest(err.message.slice(0, 120)), back);
        throw err;
      }

      // Everything above needed no network; the Graph call below spends the bank's quota.
      const limit = clientOwnLimit(client.rateLimits, "link") ?? deps.linkLimits.perClient;
      if (limit) {
        const hit = await deps.rateLimiter.hit(`link:client:${client.id}`, limit);
        counted?.("link-client", limit, hit);
        if (hit.count > limit.max) throw withReturn(retryAfter(Errors.tooManyLinks(), hit.retryAfter), back);
      }

      let psid: string;
      try {
        const resolved = await graph.resolvePsid(token, messenger.pageAccessToken, meter);
        if (resolved.pageId !== messenger.pageId) throw withReturn(Errors.pageMismatch(), back);
        if (!/^[\x21-\x7e]{1,128}$/.test(resolved.psid)) throw new GraphError("unavailable", "Graph API answered an unusable PSID");
        psid = resolved.psid;
      } catch (err) {
        if (err instanceof GraphError) throw withReturn(err.kind === "expired_token" ? Errors.expiredToken() : Errors.graphDown(), back);
        throw err;
      }

      let login: AuthorizationRequest;
      try {
        login = await bankIdp.authorizationRequest(bank, meter);
      } catch (err) {
        if (err instanceof BankIdpError) throw withReturn(Errors.bankDown(), back);
        throw err;
      }
      const id = randomUUID();
      const binding = newBinding(id);
      const now = clock.now();
      await attempts.create({
        id,
        bindingHash: binding.hash,
        clientId: client.id,
        psid,
        redirectUri: redirect.href,
        scopes: request.scopes,
        optionalScopes: request.optionalScopes,
        purposes: request.purposes,
        durationDays: request.consentDurationDays,
        codeChallenge: request.codeChallenge,
        expiresAt: new Date(now.getTime() + ATTEMPT_TTL_MS),
        requestId,
        oidcStateHash: hashToken(login.state),
        oidcNonceSealed: sealer.seal(login.nonce, nonceContext(id)),
        oidcVerifierSealed: sealer.seal(login.codeVerifier, verifierContext(id)),
      });
      return { cookie: binding.value, location: login.url.href };
    },

    /** GET /link/callback: the bank's answer, checked by openid-client, gives the customer's `sub`. */
    async callback(binding: AttemptBinding | undefined, currentUrl: URL, meter?: UpstreamMeter): Promise<{ location: string }> {
      const attempt = await attemptFor(binding, "started");
      const state = currentUrl.searchParams.get("state");
      // A state that is not this attempt's is refused and changes nothing: anyone can send this
      // browser to /link/callback (a cross-site link, another attempt's late callback), and that
      // must not end the customer's live attempt. Only the bank's answer to this attempt moves it.
      if (!state || !attempt.oidcStateHash || !constantEquals(hashToken(state), attempt.oidcStateHash)) {
        throw withReturn(Errors.stateMismatch(), attempt);
      }
      const client = await clientOf(attempt);
      const bank = bankIdpSettings(client, sealer);
      if (!bank) throw withReturn(Errors.clientNotReady(), attempt);
      if (currentUrl.searchParams.get("error")) {
        // The customer cancelled (or the bank refused) at the bank: back to Messenger, no code.
        await attempts.fail(attempt.id, `bank_error:${currentUrl.searchParams.get("error")!.replace(/[^\w.-]/g, "").slice(0, 40)}`);
        return { location: messengerReturnUrl(attempt.redirectUri) };
      }
      let subject: string;
      try {
        ({ subject } = await bankIdp.completeCallback(bank, currentUrl, {
          state,
          nonce: sealer.unseal(attempt.oidcNonceSealed!, nonceContext(attempt.id)),
          codeVerifier: sealer.unseal(attempt.oidcVerifierSealed!, verifierContext(attempt.id)),
        }, meter));
      } catch (err) {
        if (!(err instanceof BankIdpError)) throw err;
        if (err.kind === "unavailable") throw withReturn(Errors.bankDown(), attempt);
        await attempts.fail(attempt.id, `bank_login:${err.kind}`);
        throw withReturn(Errors.bankRefused(), attempt);
      }
      try {
        await attempts.transition(attempt.id, "started", "authenticated", clock.now(), { bankSubject: subject.slice(0, 255) });
      } catch (err) {
        mapStateError(err, attempt);
      }
      return { location: "/link/2fa" };
    },

    /** GET /link/2fa: enrolment (QR + otpauth URI) for a new customer, else the code form. */
    async secondFactorForm(binding: AttemptBinding | undefined) {
      const attempt = await attemptFor(binding, "authenticated");
      const client = await clientOf(attempt);
      const status = await totp.status(client.id, attempt.bankSubject!);
      if (status.lockedUntil) {
        await attempts.fail(attempt.id, "second_factor_locked");
        throw withReturn(Errors.locked(status.lockedUntil, clock.now()), attempt);
      }
      const enrolment = status.state === "enrolled" ? undefined : await totp.enrol(client.id, attempt.bankSubject!, attempt.id, { issuer: client.name, account: `${client.name} customer` }, status.factor);
      return { attempt, bankName: client.name, enrolment };
    },

    /** POST /link/2fa. */
    async verifySecondFactor(binding: AttemptBinding | undefined, code: string) {
      const attempt = await attemptFor(binding, "authenticated");
      const client = await clientOf(attempt);
      const outcome = await totp.verify(client.id, attempt.bankSubject!, code);
      if (outcome.ok) {
        try {
          await attempts.transition(attempt.id, "authenticated", "second_factor_passed", clock.now(), { secondFactorMethod: outcome.method, secondFactorAt: outcome.at });
        } catch (err) {
          mapStateError(err, attempt);
        }
        return { ok: true as const };
      }
      if (outcome.reason === "locked") {
        await attempts.fail(attempt.id, "second_factor_locked");
        throw withReturn(Errors.locked(outcome.lockedUntil, clock.now()), attempt);
      }
      return { ...outcome, attempt, bankName: client.name };
    },

    /**
     * GET /link/consent. It names the Messenger account being linked (name and picture when the
     * page token may read them), so a customer walked into linking someone else's chat can see it.
     */
    async consentForm(binding: AttemptBinding | undefined, meter?: UpstreamMeter) {
      const attempt = await attemptFor(binding, "second_factor_passed");
      const client = await clientOf(attempt);
      const expiresAt = new Date(clock.now().getTime() + attempt.durationDays * 86_400_000);
      const messenger = messengerSettings(client, sealer);
      const profile = messenger ? await graph.profile(attempt.psid, messenger.pageAccessToken, meter) : undefined;
      const picture = profile?.pictureUrl ? checkUrl(profile.pictureUrl, config.production) : undefined;
      const messengerAccount = profile?.name || picture instanceof URL ? { name: profile?.name, picture: picture instanceof URL ? picture : undefined } : undefined;
      return { attempt, bankName: client.name, expiresAt, messengerAccount };
    },

    /**
     * POST /link/consent. Approve: ONE transaction makes the link, the ledger grant and the code,
     * and ends the attempt; a consumed attempt cannot mint a second code. Deny: no code.
     */
    async decide(binding: AttemptBinding | undefined, decision: "approve" | "deny", requestId: string, ticked: readonly string[] = []): Promise<{ location: string }> {
      const attempt = await attemptFor(binding, "second_factor_passed");
      const now = clock.now();
      if (decision === "deny") {
        try {
          await attempts.transition(attempt.id, "second_factor_passed", "declined", now);
        } catch (err) {
          mapStateError(err, attempt);
        }
        return { location: messengerReturnUrl(attempt.redirectUri) };
      }
      // Exactly the required pairs and those of the ticked optional scopes; a scope that was not
      // offered refuses the form before anything is recorded (the attempt stays where it was).
      const pairs = approvedPairs(attempt, ticked);
      if (!pairs) throw withReturn(Errors.notOffered(), attempt);
      // Tokens carry exactly the granted scopes, in the order the request named them.
      const scopes = [...attempt.scopes, ...(attempt.optionalScopes ?? []).filter((s) => ticked.includes(s))];
      const subject = attempt.bankSubject!;
      const expiresAt = new Date(now.getTime() + attempt.durationDays * 86_400_000);
      const evidence = { second_factor: attempt.secondFactorMethod ?? "totp", second_factor_at: attempt.secondFactorAt?.toISOString(), request_id: requestId, attempt_id: attempt.id };
      let code: string;
      try {
        code = await attempts.inTransaction(async (tx) => {
          await attempts.transition(attempt.id, "second_factor_passed", "consented", now, {}, tx);
          const { link, wasActive } = await deps.links.activate(tx, { clientId: attempt.clientId, subject, psid: attempt.psid });
          const terms = { clientId: attempt.clientId, subject, linkId: link.id, psid: attempt.psid, pairs, expiresAt, actor: "customer" as const, evidence };
          const consent =
            wasActive && link.consentId ? await ledger.reconsent({ ...terms, consentId: link.consentId }, { tx }) : await ledger.grant(terms, { tx });
          await deps.links.setConsent(tx, link.id, consent.consentId);
          const issued = await oauth.issueAuthorizationCode(tx, {
            clientId: attempt.clientId,
            linkId: link.id,
            attemptId: attempt.id,
            consentId: consent.consentId,
            subject,
            scopes,
            codeChallenge: attempt.codeChallenge,
          });
          await attempts.transition(attempt.id, "consented", "code_issued", now, { linkId: link.id }, tx);
          return issued;
        });
      } catch (err) {
        mapStateError(err, attempt);
      }
      return { location: messengerReturnUrl(attempt.redirectUri, code) };
    },
  };
}

export type LinkingService = ReturnType<typeof createLinkingService>;
