import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

// oidc-provider ships no type declarations; these are the few shapes used here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type OidcContext = any;

/**
 * A real OpenID provider (oidc-provider) playing a bank on loopback, with a login that can be
 * driven over plain HTTP (no dev interactions, no browser): GET /interaction/:uid shows a form,
 * POST /interaction/:uid with `username` and `password` signs in. Consent is implied (the bank's
 * own relying party), so a signed-in customer goes straight back to the broker.
 */
export interface BankIdpServer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Demo customers: username → { password, sub }. */
  accounts: Record<string, { password: string; sub: string }>;
  /** Another customer who may sign in (benchmarks run many journeys, one customer each). */
  addAccount(username: string, password: string, sub: string): void;
  /** How often the discovery document was fetched. */
  discoveryHits(): number;
  close(): Promise<void>;
}

export const DEMO_ACCOUNTS = {
  alice: { password: "alice-password", sub: "cust-alice-001" },
  bob: { password: "bob-password", sub: "cust-bob-002" },
};

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => resolve(new URLSearchParams(data)));
  });
}

export async function startBankIdp(options: { redirectUri: string; clientId?: string; clientSecret?: string }): Promise<BankIdpServer> {
  const clientId = options.clientId ?? "link-broker";
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const accounts: Record<string, { password: string; sub: string }> = { ...DEMO_ACCOUNTS };
  const subs = new Set(Object.values(accounts).map((a) => a.sub));

  let provider: OidcContext;
  let discoveryHits = 0;
  const server: Server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/.well-known/openid-configuration") discoveryHits++;
      const match = /^\/interaction\/([\w-]+)$/.exec(url.pathname);
      if (match && provider) {
        const details = await provider.interactionDetails(req, res);
        if (req.method === "GET") {
          res.writeHead(200, { "content-type": "text/html" });
          return res.end(`<form method="post"><label>Username <input name="username"></label><label>Password <input name="password" type="password"></label><button>Sign in</button></form><!-- ${details.prompt.name} -->`);
        }
        const form = await readForm(req);
        const account = accounts[form.get("username") ?? ""];
        if (form.get("cancel") === "1") {
          return provider.interactionFinished(req, res, { error: "access_denied", error_description: "customer cancelled" }, { mergeWithLastSubmission: false });
        }
        if (!account || account.password !== form.get("password")) {
          res.writeHead(401, { "content-type": "text/plain" });
          return res.end("wrong username or password");
        }
        return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
      }
      return provider!.callback()(req, res);
    } catch (err) {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end(String((err as Error).message));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "bank-idp-1", alg: "RS256", use: "sig" };
  provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [options.redirectUri], grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "client_secret_basic" }],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: OidcContext, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    pkce: { required: () => true },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    findAccount: async (_ctx: OidcContext, sub: string) => (subs.has(sub) ? { accountId: sub, claims: async () => ({ sub }) } : undefined),
    // The bank's own relying party: consent is implied, so grant openid on first use.
    loadExistingGrant: async (ctx: OidcContext) => {
      const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope("openid");
      await grant.save();
      return grant;
    },
  });
  provider.on("server_error", () => {});

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    addAccount(username, password, sub) {
      accounts[username] = { password, sub };
      subs.add(sub);
    },
    discoveryHits: () => discoveryHits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
