// The Graph API endpoints the broker calls: PSID lookup and unlink_accounts.
import type { FastifyInstance } from "fastify";
import type { LinkingTokens } from "./linking-tokens.ts";

export interface GraphOptions {
  pageId: string;
  pageAccessToken: string;
  tokens: LinkingTokens;
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

  const unlink = async (req: { query: unknown; body: unknown }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const q = req.query as Record<string, string | undefined>;
    const body = (req.body ?? {}) as Record<string, string | undefined>;
    if (!checkPageToken(q.access_token ?? body.access_token)) return reply.code(400).send(oauthError("Invalid OAuth access token.", 190));
    const psid = body.psid ?? q.psid;
    if (!psid) return reply.code(400).send(oauthError("(#100) The parameter psid is required", 100));
    await opts.onUnlinkAccounts(psid);
    return reply.code(200).send({ result: "unlink account success" });
  };
  app.post("/graph/me/unlink_accounts", unlink);
  app.post("/graph/:version/me/unlink_accounts", unlink);
}
