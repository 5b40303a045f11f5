import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface GraphCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
}

/**
 * A loopback stand-in for the Graph API calls the broker makes: `GET /me?fields=recipient` and
 * `POST /me/unlink_accounts`. It records calls, can expire linking tokens and can fail.
 */
export interface FakeGraph {
  url: string;
  calls: GraphCall[];
  pageId: string;
  pageAccessToken: string;
  /** A fresh account_linking_token for a PSID (as Messenger appends to the link URL). */
  issueToken(psid: string): string;
  expireToken(token: string): void;
  /** The profile `GET /{psid}?fields=name,profile_pic` answers; a PSID without one gets a permission error. */
  setProfile(psid: string, profile: { name?: string; profile_pic?: string }): void;
  /** The next `n` requests answer 500 (or hang past any timeout with mode "hang", or bad JSON). */
  fail(n: number, mode?: "500" | "hang" | "garbage"): void;
  unlinkCalls(): GraphCall[];
  /** Send API calls (`POST /me/messages`). */
  messageCalls(): GraphCall[];
  close(): Promise<void>;
}

export async function startFakeGraph(options: { pageId?: string; pageAccessToken?: string } = {}): Promise<FakeGraph> {
  const pageId = options.pageId ?? "PAGE-1";
  const pageAccessToken = options.pageAccessToken ?? `page-token-${Math.random().toString(36).slice(2)}`;
  const tokens = new Map<string, { psid: string; expired: boolean }>();
  const profiles = new Map<string, { name?: string; profile_pic?: string }>();
  const calls: GraphCall[] = [];
  let failures = 0;
  let failMode: "500" | "hang" | "garbage" = "500";
  let counter = 0;

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => resolve(data));
    });

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname.replace(/^\/v\d+\.\d+/, "");
    const raw = req.method === "POST" ? await readBody(req) : undefined;
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    calls.push({ method: req.method ?? "", path, query: Object.fromEntries(url.searchParams), body });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (failures > 0) {
      failures--;
      if (failMode === "hang") return; // never answers; the client times out
      if (failMode === "garbage") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end("<html>oops");
      }
      return send(500, { error: { message: "An unexpected error has occurred.", type: "OAuthException", code: 2 } });
    }
    if (url.searchParams.get("access_token") !== pageAccessToken) {
      return send(400, { error: { message: "Invalid OAuth access token.", type: "OAuthException", code: 190 } });
    }
    if (req.method === "GET" && path === "/me" && url.searchParams.get("fields") === "recipient") {
      const entry = tokens.get(url.searchParams.get("account_linking_token") ?? "");
      if (!entry || entry.expired) {
        return send(400, { error: { message: "Invalid account_linking_token", type: "OAuthException", code: 10301 } });
      }
      return send(200, { id: pageId, recipient: entry.psid });
    }
    if (req.method === "GET" && url.searchParams.get("fields") === "name,profile_pic") {
      const profile = profiles.get(decodeURIComponent(path.slice(1)));
      if (!profile) return send(400, { error: { message: "(#230) Requires pages_messaging permission", type: "OAuthException", code: 230 } });
      return send(200, { ...profile, id: path.slice(1) });
    }
    if (req.method === "POST" && path === "/me/messages") {
      const b = body as { recipient?: { id?: unknown }; messaging_type?: unknown; tag?: unknown; message?: { text?: unknown } } | undefined;
      if (typeof b?.recipient?.id !== "string" || typeof b.message?.text !== "string") return send(400, { error: { message: "recipient and message required", type: "OAuthException", code: 100 } });
      return send(200, { recipient_id: b.recipient.id, message_id: `m-${++counter}` });
    }
    if (req.method === "POST" && path === "/me/unlink_accounts") {
      const psid = (body as { psid?: unknown } | undefined)?.psid;
      if (typeof psid !== "string") return send(400, { error: { message: "psid required", type: "OAuthException", code: 100 } });
      return send(200, { result: "unlink account success" });
    }
    return send(404, { error: { message: "Unknown path", type: "OAuthException", code: 803 } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v23.0`,
    calls,
    pageId,
    pageAccessToken,
    issueToken(psid) {
      const token = `alt-${++counter}-${Math.random().toString(36).slice(2)}`;
      tokens.set(token, { psid, expired: false });
      return token;
    },
    expireToken(token) {
      const entry = tokens.get(token);
      if (entry) entry.expired = true;
    },
    setProfile(psid, profile) {
      profiles.set(psid, profile);
    },
    fail(n, mode = "500") {
      failures = n;
      failMode = mode;
    },
    unlinkCalls: () => calls.filter((c) => c.path === "/me/unlink_accounts"),
    messageCalls: () => calls.filter((c) => c.path === "/me/messages"),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
