// Step 1: make ES256 keys and register the bank's client (once, at setup).
import { generateKeyPair, publicJwk, registerClient } from "@link-broker/client";

export async function registerBank(brokerUrl: string, initialAccessToken: string, setup: {
  messenger: { page_id: string; page_access_token: string; app_secret: string; verify_token: string };
  bank_idp: { issuer: string; client_id: string; client_secret: string };
}) {
  // One key signs client assertions (private_key_jwt), the other DPoP proofs. Keep the private
  // halves in your key store; `extractable` only so they can be stored.
  const clientKey = await generateKeyPair({ extractable: true });
  const dpopKey = await generateKeyPair({ extractable: true });
  const kid = `bank-${new Date().toISOString().slice(0, 10)}`;

  const registration = await registerClient({
    brokerUrl,
    initialAccessToken,
    metadata: {
      client_name: "Example Bank",
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [{ ...(await publicJwk(clientKey.publicKey, kid)) }] },
      grant_types: ["authorization_code", "refresh_token", "client_credentials"],
      scope: "balance:read alerts:fraud ledger:check",
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      messenger: setup.messenger, // your page, so the broker can resolve PSIDs and unlink
      bank_idp: setup.bank_idp, // the broker's relying-party credentials at your OpenID provider
    },
  });
  // Store these: the registration access token is answered only now.
  return { clientId: registration.client_id, registrationAccessToken: registration.registration_access_token!, kid, clientKey, dpopKey };
}
