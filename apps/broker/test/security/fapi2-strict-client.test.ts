// A real, strict client: oauth4webapi drives a FAPI 2.0 journey against the broker. PAR with
// private_key_jwt, /link through the real bank IdP and TOTP, then the code exchange with DPoP,
// refresh, introspection and revocation. The library runs with its defaults, which are its
// strictest (RFC 8414 issuer match, response checks, DPoP nonce handling); the one relaxation is
// allowInsecureRequests, because the broker listens on http://127.0.0.1 in tests.
// The code reaches the bank through Messenger's webhook, not a redirect to the bank, so the
// "authorization response" the client validates is the parameters it received there.
import * as oauth from "oauth4webapi";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driveLinkFlow } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv } from "../support/linking-env.ts";

let env: LinkingEnv;
beforeAll(async () => {
  env = await startLinkingEnv({ deps: "real" });
});
afterAll(() => env?.close());

const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** Runs a DPoP-protected request, answering the server's DPoP-Nonce challenge once (RFC 9449 §8). */
async function withNonce<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return run();
    throw err;
  }
}

describe("FAPI 2.0 journey with a strict oauth4webapi client", () => {
  it("PAR + private_key_jwt → /link (bank sign-in, TOTP, consent) → code + PKCE + DPoP → refresh → introspect → revoke", async () => {
    const clientKeys = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(clientKeys.publicKey)), kid: "client-key-1", alg: "ES256", use: "sig" };
    const registered = await env.registerBank({
      metadata: { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, dpop_bound_access_tokens: true, require_pushed_authorization_requests: true, grant_types: ["authorization_code", "refresh_token"], scope: "balance:read alerts:fraud" },
    });

    const issuer = new URL(env.brokerUrl);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
    const client: oauth.Client = { client_id: registered.client_id };
    const clientAuth = oauth.PrivateKeyJwt({ key: clientKeys.privateKey, kid: "client-key-1" });
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));

    // PAR (RFC 9126), client authenticated by private_key_jwt with aud = the issuer.
    const verifier = oauth.generateRandomCodeVerifier();
    const par = await withNonce(async () =>
      oauth.processPushedAuthorizationResponse(
        as,
        client,
        await oauth.pushedAuthorizationRequest(as, client, clientAuth, { scope: "balance:read alerts:fraud", code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" }, { DPoP, ...insecure }),
      ),
    );
    expect(par.expires_in).toBeLessThanOrEqual(90);

    // The customer in Messenger: /link with the request_uri, bank sign-in, TOTP, approve.
    const flow = await driveLinkFlow(env, { clientId: registered.client_id, psid: "psid-fapi", params: { client_id: registered.client_id, request_uri: par.request_uri } });
    expect(flow.authorizationCode).toBeTruthy();
    const callback = oauth.validateAuthResponse(as, client, new URLSearchParams({ code: flow.authorizationCode! }), oauth.expectNoState);

    // Code exchange with PKCE and a DPoP-bound token.
    const tokens = await withNonce(async () =>
      oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callback, env.messengerRedirect, verifier, { DPoP, ...insecure })),
    );
    expect(tokens.token_type).toBe("dpop");
    expect(tokens.scope?.split(" ").sort()).toEqual(["alerts:fraud", "balance:read"]);
    expect(tokens.expires_in).toBeLessThanOrEqual(900);
    expect(tokens.refresh_token).toBeTruthy();

    // Refresh: sender-constrained, not rotated (FAPI 2.0 with DPoP).
    const refreshed = await withNonce(async () => oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, { DPoP, ...insecure })));
    expect(refreshed.token_type).toBe("dpop");
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token ?? tokens.refresh_token).toBe(tokens.refresh_token);

    // Introspection and revocation (RFC 7662, RFC 7009).
    const introspected = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, clientAuth, refreshed.access_token, insecure));
    expect(introspected).toMatchObject({ active: true, client_id: registered.client_id, token_type: "DPoP" });
    expect(introspected.cnf?.jkt).toBeTruthy();
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, tokens.refresh_token!, insecure));
    const after = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, clientAuth, refreshed.access_token, insecure));
    expect(after.active).toBe(false);
  });
});
