// Registration management (RFC 7591 / 7592), typed from the broker's OpenAPI document.
import createFetchClient from "openapi-fetch";
import { BrokerUnreachableError, errorFromResponse } from "./errors.ts";
import type { paths } from "./generated/openapi.ts";

export type ClientMetadata = paths["/connect/register"]["post"]["requestBody"]["content"]["application/json"];
export type Registration = paths["/connect/register"]["post"]["responses"][201]["content"]["application/json"];
export type RegistrationView = paths["/connect/register/{client_id}"]["get"]["responses"][200]["content"]["application/json"];

export interface RegistrationOptions {
  /** The broker's base URL (its issuer). */
  brokerUrl: string;
  fetch?: typeof fetch;
  /** Per request, default 10 s. */
  timeoutMs?: number;
}

function api(options: RegistrationOptions) {
  const base = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return createFetchClient<paths>({
    baseUrl: options.brokerUrl.replace(/\/$/, ""),
    fetch: async (request: Request) => {
      try {
        return await base(request, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new BrokerUnreachableError(err);
      }
    },
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Registers a client with the operator's initial access token. The answer carries
 * `client_secret` (client_secret_basic) and `registration_access_token` once: store them.
 */
export async function registerClient(options: RegistrationOptions & { initialAccessToken: string; metadata: ClientMetadata }): Promise<Registration> {
  const { data, error, response } = await api(options).POST("/connect/register", { headers: bearer(options.initialAccessToken), body: options.metadata });
  if (!data) throw errorFromResponse(response, error);
  return data;
}

export interface ManageOptions extends RegistrationOptions {
  clientId: string;
  registrationAccessToken: string;
}

/** The client's registration, or undefined when the broker no longer knows it (or the token). */
export async function readRegistration(options: ManageOptions): Promise<RegistrationView | undefined> {
  const { data, error, response } = await api(options).GET("/connect/register/{client_id}", { params: { path: { client_id: options.clientId } }, headers: bearer(options.registrationAccessToken) });
  if (data) return data;
  if ([401, 403, 404].includes(response.status)) return undefined;
  throw errorFromResponse(response, error);
}

/** Replaces the client's metadata (same client_id, so its links stay). */
export async function updateRegistration(options: ManageOptions & { metadata: ClientMetadata }): Promise<RegistrationView> {
  const { data, error, response } = await api(options).PUT("/connect/register/{client_id}", {
    params: { path: { client_id: options.clientId } },
    headers: bearer(options.registrationAccessToken),
    body: { ...options.metadata, client_id: options.clientId },
  });
  if (!data) throw errorFromResponse(response, error);
  return data;
}

/** Deletes the client: it can no longer authenticate. */
export async function deleteRegistration(options: ManageOptions): Promise<void> {
  const { error, response } = await api(options).DELETE("/connect/register/{client_id}", { params: { path: { client_id: options.clientId } }, headers: bearer(options.registrationAccessToken) });
  if (!response.ok) throw errorFromResponse(response, error);
}
