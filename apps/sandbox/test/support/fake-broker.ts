// A stand-in for the broker's public API, strict where the sandbox's requests must be right
// (private_key_jwt assertions, DPoP proofs, PKCE, webhook signatures) and skipping the
// customer-facing pages: its /link goes straight back to Messenger with a code.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyRequest } from "fastify";
import formbody from "@fastify/formbody";
import { fakeBrokerPages } from "./fake-broker-pages.ts";
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from "jose";

export interface FakeBrokerState {
  registrations: number;
  clients: Map<string, { jwks: { keys: JWK[] }; rat: string; messenger: { page_access_token: string; app_secret: string }; bank_idp: unknown }>;
  withdrawn: Set<string>;
  checks: { psid: string; scope: string; purpose: string }[];
  webhooks: { status: string; psid: string }[];
  links: Map<string, string>;
  subscribed?: boolean;
  updates?: number;
}

export async function startFakeBroker(opts: { port: number; registrationToken: string; graphUrl: () => string; pages?: { allowlist: string } }) {
  const issuer = `http://localhost:${opts.port}`;
  const state: FakeBrokerState = { registrations: 0, clients: new Map(), withdrawn: new Set(), checks: [], webhooks: [], links: new Map() };
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const publicJwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] };
  const seenJti = new Set<string>();
  const pars = new Map<string, { clientId: string; challenge: string; scope: string }>();
  const codes = new Map<string, { clientId: string; challenge: string; psid: string; scope: string }>();

  const app = Fastify();
  await app.register(formbody);
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    (req as unknown as { raw_: Buffer }).raw_ = body as Buffer;
    done(null, JSON.parse((body as Buffer).toString()));
  });

  async function clientAuth(req: FastifyRequest): Promise<string> {
    const b = req.body as Record<string, string>;
    if (b.client_assertion_type !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") throw new Error("assertion type");
    const client = state.clients.get(b.client_id ?? "");
    if (!client) throw new Error("unknown client");
    const { payload } = await jwtVerify(b.client_assertion!, createLocalJWKSet(client.jwks), { audience: issuer, issuer: b.client_id, subject: b.client_id });
    if (!payload.jti || seenJti.has(payload.jti)) throw new Error("jti replay");
    seenJti.add(payload.jti);
    return b.client_id!;
  }

  async function dpop(req: FastifyRequest, accessToken?: string): Promise<string> {
    const proof = String(req.headers.dpop ?? "");
    const header = decodeProtectedHeader(proof);
    if (header.typ !== "dpop+jwt" || !header.jwk) throw new Error("dpop header");
    const { payload } = await jwtVerify(proof, createLocalJWKSet({ keys: [header.jwk as JWK] }), { typ: "dpop+jwt", maxTokenAge: 60 });
    if (payload.htm !== req.method || payload.htu !== `${issuer}${req.url.split("?")[0]}`) throw new Error("htm/htu");
    if (accessToken && payload.ath !== createHash("sha256").update(accessToken).digest("base64url")) throw new Error("ath");
    return calculateJwkThumbprint(header.jwk as JWK);
  }

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/.well-known/oauth-authorization-server", async () => ({ issuer, pushed_authorization_request_endpoint: `${issuer}/par` }));
  app.get("/jwks.json", async () => publicJwks);

  app.post("/connect/register", async (req, reply) => {
    if (req.headers.authorization !== `Bearer ${opts.registrationToken}`) return reply.code(401).send({ error: "invalid_token" });
    const m = req.body as Record<string, any>;
    if (m.token_endpoint_auth_method !== "private_key_jwt" || m.dpop_bound_access_tokens !== true || m.require_pushed_authorization_requests !== true) {
      return reply.code(400).send({ error: "invalid_client_metadata" });
    }
    const clientId = `client_${randomUUID()}`;
    const rat = randomBytes(32).toString("base64url");
    state.clients.set(clientId, { jwks: m.jwks, rat, messenger: m.messenger, bank_idp: m.bank_idp });
    state.registrations++;
    return reply.code(201).send({ client_id: clientId, registration_access_token: rat, registration_client_uri: `${issuer}/connect/register/${clientId}` });
  });
  app.get("/connect/register/:id", async (req, reply) => {
    const c = state.clients.get((req.params as { id: string }).id);
    if (!c || req.headers.authorization !== `Bearer ${c.rat}`) return reply.code(401).send({ error: "invalid_token" });
    return { client_id: (req.params as { id: string }).id };
  });

  app.put("/connect/register/:id", async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const c = state.clients.get(id);
    if (!c || req.headers.authorization !== `Bearer ${c.rat}`) return reply.code(401).send({ error: "invalid_token" });
    const m = req.body as Record<string, any>;
    if (m.client_id !== id) return reply.code(400).send({ error: "invalid_client_metadata" });
    state.clients.set(id, { ...c, jwks: m.jwks, messenger: m.messenger, bank_idp: m.bank_idp });
    state.updates = (state.updates ?? 0) + 1;
    return { client_id: id };
  });

  app.post("/par", async (req, reply) => {
    try {
      const clientId = await clientAuth(req);
      await dpop(req);
      const b = req.body as Record<string, string>;
      if (b.code_challenge_method !== "S256" || !b.code_challenge) return reply.code(400).send({ error: "invalid_request" });
      const requestUri = `urn:ietf:params:oauth:request_uri:${randomUUID()}`;
      pars.set(requestUri, { clientId, challenge: b.code_challenge, scope: b.scope! });
      return reply.code(201).send({ request_uri: requestUri, expires_in: 60 });
    } catch (err) {
      return reply.code(401).send({ error: "invalid_client", error_description: (err as Error).message });
    }
  });

  if (opts.pages) {
    fakeBrokerPages(app, {
      issuer,
      allowlist: opts.pages.allowlist,
      client: (id) => state.clients.get(id) as any,
      graphUrl: opts.graphUrl,
      issueCode: (requestUri, psid) => {
        const par = pars.get(requestUri);
        if (!par) return undefined;
        const code = randomBytes(16).toString("base64url");
        codes.set(code, { clientId: par.clientId, challenge: par.challenge, psid, scope: par.scope });
        return code;
      },
    });
  } else app.get("/link", async (req, reply) => {
    const q = req.query as Record<string, string>;
    const par = pars.get(q.request_uri ?? "");
    if (!par || par.clientId !== q.client_id) return reply.code(400).send("bad request_uri");
    const client = state.clients.get(par.clientId)!;
    const graph = await fetch(`${opts.graphUrl()}/me?fields=recipient&account_linking_token=${encodeURIComponent(q.account_linking_token!)}&access_token=${encodeURIComponent(client.messenger.page_access_token)}`);
    if (!graph.ok) return reply.code(400).send("linking token refused");
    const { recipient } = (await graph.json()) as { recipient: string };
    const code = randomBytes(16).toString("base64url");
    codes.set(code, { clientId: par.clientId, challenge: par.challenge, psid: recipient, scope: par.scope });
    return reply.redirect(`${q.redirect_uri}&authorization_code=${code}`, 303);
  });

  const sign = (claims: Record<string, unknown>, sub: string, jkt: string) =>
    new SignJWT({ ...claims, cnf: { jkt } }).setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" }).setIssuer(issuer).setSubject(sub).setJti(randomUUID()).setIssuedAt().setExpirationTime("15m").sign(privateKey);

  app.post("/oauth/token", async (req, reply) => {
    reply.header("cache-control", "no-store");
    try {
      const clientId = await clientAuth(req);
      const jkt = await dpop(req);
      const b = req.body as Record<string, string>;
      if (b.grant_type === "client_credentials") {
        return { access_token: await sign({ client_id: clientId, scope: b.scope }, clientId, jkt), token_type: "DPoP", expires_in: 900, scope: b.scope };
      }
      const c = codes.get(b.code ?? "");
      codes.delete(b.code ?? "");
      if (!c || c.clientId !== clientId) return reply.code(400).send({ error: "invalid_grant" });
      if (createHash("sha256").update(b.code_verifier ?? "").digest("base64url") !== c.challenge) return reply.code(400).send({ error: "invalid_grant", error_description: "PKCE" });
      const linkId = `link_${randomUUID()}`;
      state.links.set(c.psid, linkId);
      state.withdrawn.delete(c.psid);
      return {
        access_token: await sign({ client_id: clientId, scope: c.scope, link_id: linkId, consent_id: `consent_${linkId}` }, "cust-1001", jkt),
        token_type: "DPoP",
        expires_in: 900,
        refresh_token: randomBytes(32).toString("base64url"),
        scope: c.scope,
      };
    } catch (err) {
      return reply.code(401).send({ error: "invalid_client", error_description: (err as Error).message });
    }
  });

  app.post("/ledger/check", async (req, reply) => {
    const auth = String(req.headers.authorization ?? "");
    if (!auth.startsWith("DPoP ")) return reply.code(401).send({ error: "invalid_token" });
    const token = auth.slice(5);
    try {
      const jkt = await dpop(req, token);
      const { payload } = await jwtVerify(token, createLocalJWKSet(publicJwks), { issuer });
      if ((payload.cnf as { jkt?: string })?.jkt !== jkt || !String(payload.scope).includes("ledger:check")) throw new Error("binding");
    } catch (err) {
      return reply.code(401).send({ error: "invalid_token", message: (err as Error).message });
    }
    const b = req.body as { psid: string; scope: string; purpose: string };
    state.checks.push(b);
    const linked = state.links.has(b.psid);
    const allowed = linked && !state.withdrawn.has(b.psid);
    return { allowed, consent_id: linked ? "consent_1" : null, expires_at: null, reason: allowed ? "active" : linked ? "withdrawn" : "no_consent" };
  });

  app.get("/messenger/webhook/:clientId", async (req, reply) => {
    const client = state.clients.get((req.params as { clientId: string }).clientId) as any;
    const q = req.query as Record<string, string>;
    if (!client || q["hub.mode"] !== "subscribe" || q["hub.verify_token"] !== client.messenger.verify_token) return reply.code(403).send({ error: "forbidden" });
    state.subscribed = true;
    return reply.type("text/plain").send(q["hub.challenge"]);
  });

  app.post("/messenger/webhook/:clientId", async (req, reply) => {
    const client = state.clients.get((req.params as { clientId: string }).clientId);
    const raw = (req as unknown as { raw_: Buffer }).raw_;
    const expected = Buffer.from(`sha256=${createHmac("sha256", client?.messenger.app_secret ?? "x").update(raw).digest("hex")}`);
    const given = Buffer.from(String(req.headers["x-hub-signature-256"] ?? ""));
    if (!client || expected.length !== given.length || !timingSafeEqual(expected, given)) return reply.code(401).send({ error: "bad_signature" });
    for (const e of (req.body as any).entry[0].messaging) {
      state.webhooks.push({ status: e.account_linking.status, psid: e.sender.id });
      if (e.account_linking.status === "unlinked") state.withdrawn.add(e.sender.id);
    }
    return { ok: true };
  });

  await app.listen({ port: opts.port, host: "127.0.0.1" });
  return { app, state, issuer, close: () => app.close() };
}
