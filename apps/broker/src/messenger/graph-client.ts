import { timed, type UpstreamMeter } from "../net/upstream-meter.ts";

/**
 * The two Graph API calls the broker makes for Messenger account linking. Tokens travel only in
 * the request; errors never carry them.
 */
export class GraphError extends Error {
  constructor(
    /** expired_token: the account_linking_token is expired or unknown (OAuthException 10301). */
    readonly kind: "expired_token" | "rejected" | "unavailable",
    message: string,
  ) {
    super(message);
    this.name = "GraphError";
  }
}

/** What the customer sees of a Messenger account on the consent page (User Profile API). */
export interface MessengerProfile {
  name?: string;
  pictureUrl?: string;
}

export interface GraphClient {
  /** `meter`: the request the call is made for, which adds up its wait (net/upstream-meter.ts). */
  resolvePsid(accountLinkingToken: string, pageAccessToken: string, meter?: UpstreamMeter): Promise<{ pageId: string; psid: string }>;
  /** The PSID's name and picture, or undefined when the page token may not read them. */
  profile(psid: string, pageAccessToken: string, meter?: UpstreamMeter): Promise<MessengerProfile | undefined>;
  unlinkAccount(psid: string, pageAccessToken: string): Promise<void>;
  /** Send API: a message the customer did not ask for, tagged ACCOUNT_UPDATE (allowed outside 24 h). */
  sendAccountUpdate(psid: string, text: string, pageAccessToken: string): Promise<void>;
}

export interface GraphClientOptions {
  baseUrl: string;
  timeoutMs?: number;
  fetch?: (input: URL, init?: RequestInit) => Promise<Response>;
}

export function createGraphClient({ baseUrl, timeoutMs = 5000, fetch: fetchFn = fetch }: GraphClientOptions): GraphClient {
  const base = baseUrl.replace(/\/$/, "");

  async function call(url: URL, init: RequestInit = {}, meter?: UpstreamMeter): Promise<unknown> {
    let response: Response;
    try {
      response = await timed(meter, () => fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: "error" }));
    } catch (err) {
      const reason = (err as Error).name === "TimeoutError" ? "timed out" : "could not be reached";
      throw new GraphError("unavailable", `Graph API ${reason}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new GraphError("unavailable", `Graph API answered ${response.status} without JSON`);
    }
    if (response.status >= 500) throw new GraphError("unavailable", `Graph API answered ${response.status}`);
    const error = (body as { error?: { code?: number; type?: string; message?: string } } | null)?.error;
    if (!response.ok || error) {
      if (error?.code === 10301) throw new GraphError("expired_token", "account linking token expired or unknown");
      throw new GraphError("rejected", `Graph API refused the call (${response.status}${error?.code ? `, code ${error.code}` : ""})`);
    }
    return body;
  }

  return {
    async resolvePsid(accountLinkingToken, pageAccessToken, meter) {
      const url = new URL(`${base}/me`);
      url.searchParams.set("fields", "recipient");
      url.searchParams.set("account_linking_token", accountLinkingToken);
      url.searchParams.set("access_token", pageAccessToken);
      const body = (await call(url, {}, meter)) as { id?: unknown; recipient?: unknown } | null;
      if (!body || typeof body.id !== "string" || typeof body.recipient !== "string" || !body.id || !body.recipient) {
        throw new GraphError("unavailable", "Graph API answered without id and recipient");
      }
      return { pageId: body.id, psid: body.recipient };
    },

    async profile(psid, pageAccessToken, meter) {
      const url = new URL(`${base}/${encodeURIComponent(psid)}`);
      url.searchParams.set("fields", "name,profile_pic");
      url.searchParams.set("access_token", pageAccessToken);
      let body: { name?: unknown; profile_pic?: unknown } | null;
      try {
        body = (await call(url, {}, meter)) as typeof body;
      } catch (err) {
        // Without the permission (or with Graph down) the page shows a warning instead.
        if (err instanceof GraphError) return undefined;
        throw err;
      }
      const name = typeof body?.name === "string" && body.name.trim() ? body.name.trim().slice(0, 100) : undefined;
      const pictureUrl = typeof body?.profile_pic === "string" && body.profile_pic.length <= 2048 ? body.profile_pic : undefined;
      return name || pictureUrl ? { name, pictureUrl } : undefined;
    },

    async sendAccountUpdate(psid, text, pageAccessToken) {
      const url = new URL(`${base}/me/messages`);
      url.searchParams.set("access_token", pageAccessToken);
      const body = { recipient: { id: psid }, messaging_type: "MESSAGE_TAG", tag: "ACCOUNT_UPDATE", message: { text } };
      await call(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    },

    async unlinkAccount(psid, pageAccessToken) {
      const url = new URL(`${base}/me/unlink_accounts`);
      url.searchParams.set("access_token", pageAccessToken);
      await call(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ psid }) });
    },
  };
}
