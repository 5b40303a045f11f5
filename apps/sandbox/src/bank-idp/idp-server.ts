// The bank's OpenID provider (oidc-provider) on its own port, with its own login page.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import Provider from "oidc-provider";
import { findCustomer, findCustomerByLogin } from "./customers.ts";
import { loadIdpJwks } from "./idp-keys.ts";
import { renderLoginPage } from "./login-page.ts";
import { MemoryAdapter } from "./memory-adapter.ts";

export interface IdpOptions {
  issuer: string;
  dataDir: string;
  clientId: string;
  clientSecret: string;
  /** The broker's redirect URI: `{BROKER}/link/callback`. */
  redirectUri: string;
  cookieKeys: string[];
}

export async function createIdp(options: IdpOptions) {
  const jwks = await loadIdpJwks(options.dataDir);
  const provider = new Provider(options.issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    adapter: MemoryAdapter,
    jwks,
    cookies: { keys: options.cookieKeys },
    claims: { openid: ["sub"], profile: ["name"] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, sub: string) => {
      const customer = findCustomer(sub);
      if (!customer) return undefined;
      return { accountId: sub, claims: () => ({ sub, name: customer.name }) };
    },
    // The bank's own broker is first-party: no consent screen at the bank (the broker asks for consent).
    // biome-ignore lint/suspicious/noExplicitAny: oidc-provider ships no types for its context
    loadExistingGrant: async (ctx: any) => {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope("openid profile");
      await grant.save();
      return grant;
    },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
  });
  const oidc = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse, path: string) {
    const [, , uid, action] = path.split("/");
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return send(res, 400, "Unknown sign-in attempt.");
    if (req.method === "GET" && !action) return send(res, 200, renderLoginPage(uid));
    if (req.method === "POST" && action === "login") {
      const form = new URLSearchParams(await readBody(req));
      const customer = findCustomerByLogin(form.get("username") ?? "", form.get("password") ?? "");
      if (!customer) return send(res, 401, renderLoginPage(uid, "Wrong username or password."));
      return provider.interactionFinished(req, res, { login: { accountId: customer.customerId } }, { mergeWithLastSubmission: false });
    }
    if (req.method === "POST" && action === "abort") {
      return provider.interactionFinished(req, res, { error: "access_denied", error_description: "The customer cancelled the sign-in." }, { mergeWithLastSubmission: false });
    }
    return send(res, 404, "Not found");
  }

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path.startsWith("/interaction/")) {
      interaction(req, res, path).catch(() => {
        if (!res.headersSent) send(res, 400, "This sign-in attempt has expired. Start again from the chat.");
      });
      return;
    }
    oidc(req, res);
  });
  return { provider, server };
}

function send(res: ServerResponse, status: number, html: string) {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(html);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > 10_000) req.destroy();
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}
