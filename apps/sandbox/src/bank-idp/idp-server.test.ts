import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { createIdp } from "./idp-server.ts";
import { loadIdpJwks } from "./idp-keys.ts";
import { cookieFetch, form } from "../../test/support/cookie-fetch.ts";
import { freePort } from "../../../broker/test/support/ports.ts";

const redirectUri = "http://localhost:3999/link/callback";
let issuer: string;
let dataDir: string;
let idp: Awaited<ReturnType<typeof createIdp>>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sandbox-idp-"));
  const port = await freePort();
  issuer = `http://localhost:${port}`;
  idp = await createIdp({ issuer, dataDir, clientId: "link-broker", clientSecret: "s3cret-s3cret-s3cret", redirectUri, cookieKeys: ["k1"] });
  await new Promise<void>((r) => idp.server.listen(port, "127.0.0.1", () => r()));
});
afterAll(async () => {
  idp.server.closeAllConnections();
  await new Promise((r) => idp.server.close(r));
  rmSync(dataDir, { recursive: true, force: true });
});

async function startLogin(go: ReturnType<typeof cookieFetch>) {
  const verifier = randomBytes(32).toString("base64url");
  const auth = new URL(`${issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: "link-broker",
    response_type: "code",
    scope: "openid profile",
    redirect_uri: redirectUri,
    state: "st-1",
    nonce: "n-1",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  const res = await go(auth.toString());
  expect(res.status).toBe(303);
  const interaction = new URL(res.headers.get("location")!, issuer).toString();
  const page = await go(interaction);
  expect(page.status).toBe(200);
  return { verifier, interaction, html: await page.text() };
}

describe("bank identity provider", () => {
  it("has its own login page (no dev interactions) listing the demo customers", async () => {
    const { html } = await startLogin(cookieFetch());
    expect(html).toContain('name="username"');
    expect(html).toContain('name="password"');
    expect(html).toContain("Ada Lovelace");
    expect(html).not.toMatch(/devInteractions|oidc-provider/i);
  });

  it("refuses a wrong password with the form again", async () => {
    const go = cookieFetch();
    const { interaction } = await startLogin(go);
    const res = await go(`${interaction}/login`, form({ username: "ada", password: "nope" }));
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("Wrong username or password");
  });

  it("signs a customer in and issues a code whose ID token names the customer id", async () => {
    const go = cookieFetch();
    const { verifier, interaction } = await startLogin(go);
    let res = await go(`${interaction}/login`, form({ username: "ada", password: "ada" }));
    // Follow the provider's redirects until it sends the customer back to the broker.
    for (let i = 0; i < 5 && !res.headers.get("location")?.startsWith(redirectUri); i++) {
      expect([302, 303]).toContain(res.status);
      res = await go(new URL(res.headers.get("location")!, issuer).toString());
    }
    const back = new URL(res.headers.get("location")!);
    expect(back.searchParams.get("state")).toBe("st-1");
    const code = back.searchParams.get("code")!;
    const token = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("link-broker:s3cret-s3cret-s3cret").toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier }),
    });
    expect(token.status).toBe(200);
    const { id_token } = (await token.json()) as { id_token: string };
    const { payload } = await jwtVerify(id_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: "link-broker" });
    expect(payload.sub).toBe("cust-1001");
    expect(payload.nonce).toBe("n-1");
  });

  it("keeps its signing key across restarts", async () => {
    // A fresh connection each time (no keep-alive), since the server is restarted in between.
    const published = (base: string) =>
      new Promise<{ kid: string; n: string }[]>((resolve, reject) => {
        httpGet(`${base}/jwks`, { agent: false }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve((JSON.parse(text) as { keys: { kid: string; n: string }[] }).keys));
        }).on("error", reject);
      });
    const before = await published(issuer);
    expect(before).toHaveLength(1);
    expect(before[0]).not.toHaveProperty("d");
    // A second provider process on the same data folder (the first one stopped), as after a restart.
    idp.server.closeAllConnections();
    await new Promise((r) => idp.server.close(r));
    const port = Number(new URL(issuer).port);
    idp = await createIdp({ issuer, dataDir, clientId: "link-broker", clientSecret: "s3cret-s3cret-s3cret", redirectUri, cookieKeys: ["k1"] });
    await new Promise<void>((r) => idp.server.listen(port, "127.0.0.1", () => r()));
    const after = await published(issuer);
    expect(after.map((k) => [k.kid, k.n])).toEqual(before.map((k) => [k.kid, k.n]));
    // And a fresh folder would have made a different key: the sameness comes from the file.
    const other = await loadIdpJwks(mkdtempSync(join(tmpdir(), "sandbox-idp-other-")));
    expect(other.keys[0]!.n).not.toBe(before[0]!.n);
  });
});
