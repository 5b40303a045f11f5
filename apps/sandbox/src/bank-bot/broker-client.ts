// The bank's calls to the broker's public HTTP API (DESIGN.md): registration, PAR, token, ledger check.
import type { Signer } from "./client-keys.ts";

export class BrokerUnreachableError extends Error {
  constructor(cause: unknown) {
    super("The broker is not reachable", { cause });
    this.name = "BrokerUnreachableError";
  }
}

export class BrokerError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`broker answered ${status}: ${String(body.error ?? "")} ${String(body.error_description ?? body.message ?? "")}`.trim());
  }
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
}

export interface LedgerCheck {
  allowed: boolean;
  consent_id: string | null;
  expires_at: string | null;
  reason: string;
}

export interface BrokerClientOptions {
  brokerUrl: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export function createBrokerClient(options: BrokerClientOptions) {
  const doFetch = options.fetch ?? fetch;
  const base = options.brokerUrl;
  let issuer: string | undefined;

  async function call(url: string, init: RequestInit, timeoutMs = options.timeoutMs): Promise<Response> {
    try {
      return await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new BrokerUnreachableError(err);
    }
  }

  async function json(res: Response): Promise<Record<string, unknown>> {
    const text = await res.text();
    try {
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return { error: "invalid_response", message: text.slice(0, 200) };
    }
  }

  async function expectOk<T>(res: Response): Promise<T> {
    const body = await json(res);
    if (!res.ok) throw new BrokerError(res.status, body);
    return body as T;
  }

  /** The broker's issuer (the audience of client assertions), from its RFC 8414 metadata. */
  async function getIssuer(): Promise<string> {
    if (issuer) return issuer;
    const res = await call(`${base}/.well-known/oauth-authorization-server`, { headers: { accept: "application/json" } });
    const meta = await expectOk<{ issuer?: string }>(res);
    issuer = meta.issuer ?? base;
    return issuer;
  }

  /**
   * A client-authenticated, DPoP-proved form POST. Retries once with the server's DPoP nonce
   * when it asks for one (RFC 9449 §8).
   */
  async function authenticatedPost(signer: Signer, clientId: string, path: string, form: Record<string, string>) {
    const url = `${base}${path}`;
    const aud = await getIssuer();
    let nonce: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const body = new URLSearchParams({
        ...form,
        client_id: clientId,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: await signer.clientAssertion(clientId, aud),
      });
      const res = await call(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", dpop: await signer.dpopProof("POST", url, { nonce }) },
        body,
      });
      const serverNonce = res.headers.get("dpop-nonce");
      if ((res.status === 400 || res.status === 401) && serverNonce && !nonce) {
        const err = await json(res);
        if (err.error === "use_dpop_nonce") {
          nonce = serverNonce;
          continue;
        }
        throw new BrokerError(res.status, err);
      }
      return res;
    }
    throw new Error("unreachable");
  }

  /** A DPoP-bound resource request (RFC 9449 §7). */
  async function resourceRequest(signer: Signer, accessToken: string, method: string, path: string, body?: unknown) {
    const url = `${base}${path}`;
    let nonce: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await call(url, {
        method,
        headers: {
          authorization: `DPoP ${accessToken}`,
          dpop: await signer.dpopProof(method, url, { accessToken, nonce }),
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const serverNonce = res.headers.get("dpop-nonce");
      if (res.status === 401 && serverNonce && !nonce && /use_dpop_nonce/.test(res.headers.get("www-authenticate") ?? "")) {
        nonce = serverNonce;
        continue;
      }
      return res;
    }
    throw new Error("unreachable");
  }

  return {
    getIssuer,
    async health(): Promise<boolean> {
      try {
        // Short: the chat page waits for this answer before it renders.
        const res = await call(`${base}/healthz`, {}, Math.min(options.timeoutMs, 1500));
        await res.arrayBuffer();
        return res.ok;
      } catch {
        return false;
      }
    },
    async register(initialAccessToken: string, metadata: Record<string, unknown>) {
      const res = await call(`${base}/connect/register`, {
        method: "POST",
        headers: { authorization: `Bearer ${initialAccessToken}`, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(metadata),
      });
      return expectOk<{ client_id: string; registration_access_token: string; registration_client_uri?: string }>(res);
    },
    /** `true` when the broker still knows this registration. */
    async readRegistration(clientId: string, registrationAccessToken: string, registrationClientUri?: string): Promise<boolean> {
      const res = await call(registrationClientUri ?? `${base}/connect/register/${encodeURIComponent(clientId)}`, {
        headers: { authorization: `Bearer ${registrationAccessToken}`, accept: "application/json" },
      });
      await res.arrayBuffer();
      if (res.ok) return true;
      if (res.status === 401 || res.status === 403 || res.status === 404) return false;
      throw new BrokerError(res.status, {});
    },
    /** RFC 7592 update: same client_id (and links), new metadata. */
    async updateRegistration(clientId: string, registrationAccessToken: string, registrationClientUri: string | undefined, metadata: Record<string, unknown>) {
      const res = await call(registrationClientUri ?? `${base}/connect/register/${encodeURIComponent(clientId)}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${registrationAccessToken}`, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ ...metadata, client_id: clientId }),
      });
      return expectOk<Record<string, unknown>>(res);
    },
    async par(signer: Signer, clientId: string, params: Record<string, string>) {
      const res = await authenticatedPost(signer, clientId, "/par", params);
      return expectOk<{ request_uri: string; expires_in: number }>(res);
    },
    async token(signer: Signer, clientId: string, params: Record<string, string>) {
      const res = await authenticatedPost(signer, clientId, "/oauth/token", params);
      return expectOk<TokenResponse>(res);
    },
    async ledgerCheck(signer: Signer, accessToken: string, body: Record<string, string>) {
      const res = await resourceRequest(signer, accessToken, "POST", "/ledger/check", body);
      return expectOk<LedgerCheck>(res);
    },
    /** The signed consent receipt and the customer's receipt page (needs `ledger:audit`). */
    async ledgerReceipt(signer: Signer, accessToken: string, consentId: string) {
      const res = await resourceRequest(signer, accessToken, "GET", `/ledger/consents/${encodeURIComponent(consentId)}/receipt`);
      return expectOk<{ consent_id: string; receipt: string; receipt_url: string }>(res);
    },
  };
}

export type BrokerClient = ReturnType<typeof createBrokerClient>;
