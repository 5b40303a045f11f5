// The customer-facing part of the stand-in broker, for running the browser suite before the
// broker's linking flow exists (E2E_FAKE_BROKER=1): bank IdP round trip (code + PKCE + nonce),
// /link/2fa (enrol with the otpauth:// URI as text, or verify; replay-safe), /link/consent.
import { createHash, randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { decodeJwt } from "jose";
import { generateSecret, generateURI, verifySync } from "otplib";

interface Attempt {
  clientId: string;
  psid: string;
  redirectUri: string;
  requestUri: string;
  state: string;
  nonce: string;
  verifier: string;
  sub?: string;
  secondFactor?: boolean;
}

export interface PagesHooks {
  issuer: string;
  allowlist: string;
  client: (clientId: string) => { messenger: { page_access_token: string }; bank_idp: any } | undefined;
  graphUrl: () => string;
  /** Turns an approved attempt into a code the token endpoint accepts. */
  issueCode: (requestUri: string, psid: string) => string | undefined;
}

const page = (body: string) =>
  `<!doctype html><html><head><meta name="viewport" content="width=device-width,initial-scale=1"><title>Broker</title></head><body style="font-family:sans-serif;max-width:460px;margin:auto;padding:12px">${body}</body></html>`;

export function fakeBrokerPages(app: FastifyInstance, hooks: PagesHooks) {
  const attempts = new Map<string, Attempt>();
  const totp = new Map<string, { secret: string; lastStep: number }>();
  const attemptOf = (cookie: string | undefined) => attempts.get(/fb_attempt=([\w-]+)/.exec(cookie ?? "")?.[1] ?? "");

  app.get("/link", async (req, reply) => {
    const q = req.query as Record<string, string>;
    const client = hooks.client(q.client_id ?? "");
    if (!client || !q.redirect_uri?.startsWith(hooks.allowlist)) return reply.code(400).type("text/html").send(page("<p>Bad link request.</p>"));
    const graph = await fetch(`${hooks.graphUrl()}/me?fields=recipient&account_linking_token=${encodeURIComponent(q.account_linking_token ?? "")}&access_token=${encodeURIComponent(client.messenger.page_access_token)}`);
    if (!graph.ok) return reply.code(400).type("text/html").send(page("<p>The Messenger link has expired.</p>"));
    const { recipient } = (await graph.json()) as { recipient: string };
    const id = randomBytes(12).toString("base64url");
    const a: Attempt = { clientId: q.client_id!, psid: recipient, redirectUri: q.redirect_uri, requestUri: q.request_uri!, state: randomBytes(12).toString("base64url"), nonce: randomBytes(12).toString("base64url"), verifier: randomBytes(32).toString("base64url") };
    attempts.set(id, a);
    const idp = client.bank_idp as { issuer: string; client_id: string };
    const auth = new URL(`${idp.issuer}/auth`);
    auth.search = new URLSearchParams({ client_id: idp.client_id, response_type: "code", scope: "openid profile", redirect_uri: `${hooks.issuer}/link/callback`, state: a.state, nonce: a.nonce, code_challenge: createHash("sha256").update(a.verifier).digest("base64url"), code_challenge_method: "S256" }).toString();
    reply.header("set-cookie", `fb_attempt=${id}; Path=/; HttpOnly; SameSite=Lax`);
    return reply.redirect(auth.toString(), 302);
  });

  app.get("/link/callback", async (req, reply) => {
    const a = attemptOf(req.headers.cookie);
    const q = req.query as Record<string, string>;
    if (!a || q.state !== a.state || !q.code) return reply.code(400).type("text/html").send(page("<p>Bad callback.</p>"));
    const idp = hooks.client(a.clientId)!.bank_idp as { issuer: string; client_id: string; client_secret: string };
    const res = await fetch(`${idp.issuer}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`${idp.client_id}:${idp.client_secret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: q.code, redirect_uri: `${hooks.issuer}/link/callback`, code_verifier: a.verifier }),
    });
    const claims = decodeJwt(((await res.json()) as { id_token: string }).id_token);
    if (claims.nonce !== a.nonce) return reply.code(400).send("nonce");
    a.sub = String(claims.sub);
    return reply.redirect("/link/2fa", 303);
  });

  app.get("/link/2fa", async (req, reply) => {
    const a = attemptOf(req.headers.cookie);
    if (!a?.sub) return reply.code(400).send("no attempt");
    let enrol = "";
    if (!totp.has(a.sub)) totp.set(a.sub, { secret: generateSecret(), lastStep: -1 });
    const t = totp.get(a.sub)!;
    if (t.lastStep < 0) enrol = `<p>Add this account to your authenticator app:</p><p><code style="word-break:break-all">${generateURI({ issuer: "link-broker", label: a.sub, secret: t.secret })}</code></p>`;
    return reply.type("text/html").send(page(`<h1>Second factor</h1>${enrol}<form method="post" action="/link/2fa"><label for="code">6-digit code</label><br><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"><button>Continue</button></form>`));
  });

  app.post("/link/2fa", async (req, reply) => {
    const a = attemptOf(req.headers.cookie);
    const t = a?.sub ? totp.get(a.sub) : undefined;
    const code = String((req.body as Record<string, string>).code ?? "");
    const result = t ? verifySync({ secret: t.secret, token: code, epochTolerance: 30 }) : { valid: false };
    const step = (result as unknown as { timeStep?: number }).timeStep ?? -1;
    if (!a || !t || !result.valid || step <= t.lastStep) return reply.code(400).type("text/html").send(page("<p>Wrong code.</p>"));
    t.lastStep = step;
    a.secondFactor = true;
    return reply.redirect("/link/consent", 303);
  });

  app.get("/link/consent", async (req, reply) => {
    const a = attemptOf(req.headers.cookie);
    if (!a?.secondFactor) return reply.code(400).send("no attempt");
    return reply.type("text/html").send(page(`<h1>Allow Sandbox Bank's bot?</h1><p>See your balance, fraud alerts. Never used for advertising.</p><form method="post" action="/link/consent"><button name="decision" value="approve">Allow</button> <button name="decision" value="deny">Deny</button></form>`));
  });

  app.post("/link/consent", async (req, reply) => {
    const a = attemptOf(req.headers.cookie);
    if (!a?.secondFactor) return reply.code(400).send("no attempt");
    const id = /fb_attempt=([\w-]+)/.exec(req.headers.cookie ?? "")![1]!;
    attempts.delete(id);
    if ((req.body as Record<string, string>).decision !== "approve") return reply.redirect(a.redirectUri, 303);
    const code = hooks.issueCode(a.requestUri, a.psid);
    return reply.redirect(`${a.redirectUri}&authorization_code=${code}`, 303);
  });
}
