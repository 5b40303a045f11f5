// The bank's registration at the broker (RFC 7591/7592): made once, stored, reused while the broker knows it.
import { createHash } from "node:crypto";
import { jsonFile } from "../json-store.ts";
import { readRegistration, registerClient, updateRegistration, type ClientMetadata } from "@link-broker/client";
import { generateClientKeys, publicJwk, type StoredKeys } from "./client-keys.ts";

export interface Registration {
  client_id: string;
  registration_access_token: string;
  registration_client_uri?: string;
  keys: StoredKeys;
  /** Hash of the metadata sent: a changed sandbox setup (ports, secrets) registers anew. */
  fingerprint: string;
}

export interface RegistrationInput {
  brokerUrl: string;
  initialAccessToken: string | undefined;
  messenger: { page_id: string; page_access_token: string; app_secret: string; verify_token: string };
  bank_idp: { issuer: string; client_id: string; client_secret: string };
  /** Where the broker pushes consent events (RFC 8935). */
  events_uri: string;
}

export const BANK_SCOPES = "balance:read transactions:read alerts:fraud support:chat ledger:check ledger:audit";

export function registrationMetadata(input: RegistrationInput, keys: StoredKeys): ClientMetadata {
  return {
    client_name: "Sandbox Bank",
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [publicJwk(keys.clientKey)] },
    grant_types: ["authorization_code", "refresh_token", "client_credentials"] as ClientMetadata["grant_types"],
    scope: BANK_SCOPES,
    require_pushed_authorization_requests: true,
    dpop_bound_access_tokens: true,
    messenger: input.messenger,
    bank_idp: input.bank_idp,
    events_uri: input.events_uri,
  };
}

export function createRegistrationManager(dataDir: string, http: { timeoutMs: number }, input: RegistrationInput) {
  const file = jsonFile<Registration | null>(dataDir, "registration.json", () => null);
  const fingerprint = createHash("sha256").update(JSON.stringify([input.brokerUrl, input.messenger, input.bank_idp, input.events_uri, BANK_SCOPES])).digest("hex");
  let pending: Promise<Registration> | undefined;

  async function ensure(): Promise<Registration> {
    const stored = file.read();
    const at = { brokerUrl: input.brokerUrl, timeoutMs: http.timeoutMs };
    const manage = stored && { ...at, clientId: stored.client_id, registrationAccessToken: stored.registration_access_token };
    if (stored && manage && (await readRegistration(manage))) {
      if (stored.fingerprint === fingerprint) return stored;
      // The sandbox's setup changed (ports, secrets): update the same client so its links survive.
      await updateRegistration({ ...manage, metadata: registrationMetadata(input, stored.keys) });
      const updated = { ...stored, fingerprint };
      file.write(updated);
      return updated;
    }
    if (!input.initialAccessToken) throw new Error("BROKER_REGISTRATION_TOKEN is not set: the bank cannot register with the broker");
    const keys = await generateClientKeys();
    const answer = await registerClient({ ...at, initialAccessToken: input.initialAccessToken, metadata: registrationMetadata(input, keys) });
    if (!answer.registration_access_token) throw new Error("the broker answered no registration_access_token");
    const registration: Registration = {
      client_id: answer.client_id,
      registration_access_token: answer.registration_access_token,
      registration_client_uri: answer.registration_client_uri,
      keys,
      fingerprint,
    };
    file.write(registration);
    return registration;
  }

  return {
    /** Registers (or confirms the stored registration) once; a failure is retried on the next call. */
    get(): Promise<Registration> {
      pending ??= ensure().catch((err) => {
        pending = undefined;
        throw err;
      });
      return pending;
    },
    stored: () => file.read(),
  };
}

export type RegistrationManager = ReturnType<typeof createRegistrationManager>;
