// The Graph API endpoints the broker and the bank call: PSID lookup, the user profile,
// unlink_accounts and the Send API.
import type { FastifyInstance } from "fastify";
import { randomBytes } from "node:crypto";
import type { LinkingTokens } from "./linking-tokens.ts";
import { GraphError, parseSendRequest, type SendRequest } from "./send-api.ts";

export interface GraphOptions {
  pageId: string;
  pageAccessToken: string;
  tokens: LinkingTokens;
  /** Where the simulator is reachable from the browser (profile pictures are served from it). */
  publicUrl: string;
  /** Send API: a message from the page (the bank's pushes, the broker's notices) lands in the chat. */
  onPageMessage: (message: SendRequest) => void;
  /** Messenger tells the page's webhook when the broker unlinks. */
  onUnlinkAccounts: (psid: string) => Promise<void>;
}

const oauthError = (message: string, code: number) => ({ error: { message, type: "OAuthException", code, fbtrace_id: "sandbox" } });

export async function graphRoutes(app: FastifyInstance, opts: GraphOptions) {
  const checkPageToken = (token: unknown) => typeof token === "string" && token === opts.pageAccessToken;

  const me = async (req: { query: unknown }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const q = req.query as Record<string, string | undefined>;
    if (!checkPageToken(q.access_token)) return reply.code(400).send(oauthError("Invalid OAuth access token.", 190));
    const psid = q.account_linking_token ? opts.tokens.lookup(q.account_linking_token) : undefined;
    if (!psid) return reply.code(400).send(oauthError("The account linking token is invalid or has expired.", 10301));
    return reply.code(200).send({ id: opts.pageId, recipient: psid });
  };
  app.get("/graph/me", me);
  app.get("/graph/:version/me", me);

  // User Profile API: GET /{psid}?fields=name,profile_pic, as the broker's consent page asks.
  // Sandbox PSIDs are the chat's own, so every one has a profile: a name from its last digits
  // and a plain avatar.
  const profile = async (req: { query: unknown; params: unknown }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const q = req.query as Record<string, string | undefined>;
    const psid = String((req.params as { psid?: string }).psid ?? "");
    if (!checkPageToken(q.access_token)) return reply.code(400).send(oauthError("Invalid OAuth access token.", 190));
    if (!/^\d{8,20}$/.test(psid)) return reply.code(400).send(oauthError("(#100) Unknown user", 100));
    return reply.code(200).send({ id: psid, name: `Sandbox user ${psid.slice(-4)}`, profile_pic: `${opts.publicUrl}/graph/pictures/${psid}.svg` });
  };
  app.get("/graph/:psid", profile);
  app.get("/graph/:version/:psid", profile);
  app.get("/graph/pictures/:file", async (req, reply) => {
    const digits = String((req.params as { file: string }).file).replace(/\.svg$/, "").slice(-4).replace(/\D/g, "");
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48"><rect width="48" height="48" fill="#1877f2"/><text x="24" y="30" font-size="14" fill="#fff" text-anchor="middle" font-family="sans-serif">${digits}</text></svg>`;
    return reply.header("content-type", "image/svg+xml").header("cache-control", "max-age=3600").send(svg);
  });

  const unlink = async (req: { query: unknown; body: unknown }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const q = req.query as Record<string, string | undefined>;
    const body = (req.body ?? {}) as Record<string, string | undefined>;
    if (!checkPageToken(q.access_token ?? body.access_token)) return reply.code(400).send(oauthError("Invalid OAuth access token.", 190));
    const psid = body.psid ?? q.psid;
    if (!psid) return reply.code(400).send(oauthError("(#100) The parameter psid is required", 100));
    await opts.onUnlinkAccounts(psid);
    return reply.code(200).send({ result: "unlink account success" });
  };
  const messages = async (req: { query: unknown; body: unknown }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const q = req.query as Record<string, string | undefined>;
    if (!checkPageToken(q.access_token)) return reply.code(400).send(oauthError("Invalid OAuth access token.", 190));
    try {
      const sent = parseSendRequest(req.body);
      opts.onPageMessage(sent);
      return reply.code(200).send({ recipient_id: sent.psid, message_id: `m_${randomBytes(12).toString("hex")}` });
    } catch (err) {
      if (err instanceof GraphError) return reply.code(400).send(err.body());
      throw err;
    }
  };
  app.post("/graph/me/messages", messages);
  app.post("/graph/:version/me/messages", messages);
  app.post("/graph/me/unlink_accounts", unlink);
  app.post("/graph/:version/me/unlink_accounts", unlink);
}
