// The client authenticator's edges, each one a check whose removal the rest of the suite did not
// notice (mutation testing): the limits on what a credential may hold, which method a client
// registered, the assertion's claims and lifetime against the broker's clock, replay, and the
// jwks_uri key sets. One client of each kind; the clock is an hour ahead of real time, so a check
// made against the wrong clock shows.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../crypto/hash.ts";
import { parseCidrList } from "../../net/address-policy.ts";
import { registrantFetch } from "../../net/outbound-fetch.ts";
import { memoryReplay } from "../../../test/support/memory-replay.ts";
import { ASSERTION_TYPE, createClientAuthenticator } from "./authenticate-client.ts";
import type { ClientRow } from "./client-repo.ts";

const ISSUER = "http://127.0.0.1:3000";
const HOUR = 3600_000;
type Key = Awaited<ReturnType<typeof generateKeyPair>>;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

let keys: Record<"a" | "b" | "c", Key>;
let jwksServer: Server;
let jwksHits: Record<string, number>;
let jwksUrl: (path: string) => string;

beforeAll(async () => {
  keys = { a: await generateKeyPair("ES256"), b: await generateKeyPair("ES256"), c: await generateKeyPair("ES256") };
  const sets: Record<string, { keys: JWK[] }> = {
    "/a.json": { keys: [{ ...(await exportJWK(keys.a.publicKey)), kid: "a", alg: "ES256" }] },
    "/b.json": { keys: [{ ...(await exportJWK(keys.b.publicKey)), kid: "b", alg: "ES256" }] },
  };
  jwksHits = {};
  jwksServer = createServer((req, res) => {
    jwksHits[req.url ?? ""] = (jwksHits[req.url ?? ""] ?? 0) + 1;
    // A key set padded past the 64 KB the broker reads of any outside answer.
    if (req.url === "/big.json") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: sets["/a.json"]!.keys, pad: "x".repeat(70 * 1024) }));
    const set = sets[req.url ?? ""];
    res.writeHead(set ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify(set ?? {}));
  });
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  jwksUrl = (path) => `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}${path}`;
});
afterAll(() => new Promise<void>((r) => jwksServer.close(() => r())));

function setup() {
  let now = new Date(Date.now() + HOUR);
  const longId = "x".repeat(200);
  const c = async () => ({ ...(await exportJWK(keys.c.publicKey)), kid: "c", alg: "ES256" });
  const clients = new Map<string, ClientRow>();
  const add = (row: Partial<ClientRow> & { id: string }) => clients.set(row.id, { jwks: null, jwksUri: null, secretHash: null, ...row } as ClientRow);
  add({ id: "basic", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s3cret") });
  add({ id: longId, tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s3cret") });
  add({ id: `${longId}y`, tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s3cret") });
  add({ id: "ctl\u0007", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s3cret") });
  add({ id: "long-secret", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s".repeat(501)) });
  add({ id: "max-secret", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s".repeat(500)) });
  add({ id: "ctl-secret", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s\u0001") });
  add({ id: "space-secret", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken(" ") });
  add({ id: "no-secret", tokenEndpointAuthMethod: "client_secret_basic", secretHash: null });
  // A key-holding client that also has a secret hash on file, and a secret client that also has keys.
  add({ id: "jwt-with-hash", tokenEndpointAuthMethod: "private_key_jwt", secretHash: hashToken("s3cret") });
  add({ id: "remote-a", tokenEndpointAuthMethod: "private_key_jwt", jwksUri: jwksUrl("/a.json") });
  add({ id: "remote-b", tokenEndpointAuthMethod: "private_key_jwt", jwksUri: jwksUrl("/b.json") });
  add({ id: "no-keys", tokenEndpointAuthMethod: "private_key_jwt" });
  add({ id: "remote-big", tokenEndpointAuthMethod: "private_key_jwt", jwksUri: jwksUrl("/big.json") });
  const ready = (async () => {
    const jwk = await c();
    add({ id: "local", tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [jwk] } as never });
    add({ id: longId.replace(/x/g, "j"), tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [jwk] } as never });
    add({ id: `${longId.replace(/x/g, "j")}k`, tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [jwk] } as never });
    add({ id: "secret-with-keys", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken("s3cret"), jwks: { keys: [jwk] } as never });
  })();
  const authenticator = createClientAuthenticator({
    clients: { get: async (id) => clients.get(id) ?? null, cached: () => undefined },
    replay: memoryReplay(),
    clock: { now: () => now },
    config: { publicUrl: ISSUER },
    fetch: registrantFetch(parseCidrList("127.0.0.1")),
  });
  const sec = () => Math.floor(now.getTime() / 1000);
  /** An assertion for `iss`, valid at the broker's clock unless `claims` says otherwise. */
  const assertion = async (iss: string, claims: Record<string, unknown> = {}, key: Key = keys.c, kid = "c") => {
    const body = { iss, sub: iss, aud: ISSUER, jti: randomUUID(), iat: sec(), exp: sec() + 60, ...claims };
    for (const [k, v] of Object.entries(body)) if (v === undefined) delete (body as Record<string, unknown>)[k];
    return new SignJWT(body).setProtectedHeader({ alg: "ES256", kid }).sign(key.privateKey);
  };
  const withAssertion = (jwt: string, extra: Record<string, unknown> = {}, authorization?: string) =>
    authenticator.authenticate({ authorization, body: { client_assertion_type: ASSERTION_TYPE, client_assertion: jwt, ...extra } });
  const withBasic = (id: string, secret: string, body: Record<string, unknown> = {}) => authenticator.authenticate({ authorization: basic(id, secret), body });
  return { ready, authenticator, addClient: add, longId, assertion, withAssertion, withBasic, sec, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

const refused = (description?: string) => ({ code: "invalid_client", status: 401, ...(description ? { message: description } : {}) });

describe("client_secret_basic: what a credential may hold", () => {
  it("takes a client id of 200 characters and refuses one of 201, though its secret is right", async () => {
    const { longId, withBasic } = setup();
    expect((await withBasic(longId, "s3cret")).id).toBe(longId);
    await expect(withBasic(`${longId}y`, "s3cret")).rejects.toMatchObject(refused());
  });

  it("takes a secret of 500 characters and refuses one of 501, though it is the right one", async () => {
    const { withBasic } = setup();
    expect((await withBasic("max-secret", "s".repeat(500))).id).toBe("max-secret");
    await expect(withBasic("long-secret", "s".repeat(501))).rejects.toMatchObject(refused());
  });

  it("refuses a control character in the id or the secret, though the pair is the registered one", async () => {
    const { withBasic } = setup();
    await expect(withBasic("ctl\u0007", "s3cret")).rejects.toMatchObject(refused());
    await expect(withBasic("ctl-secret", "s\u0001")).rejects.toMatchObject(refused());
  });

  it("decodes a secret made only of form-encoded characters, and refuses one that does not decode", async () => {
    const { withBasic } = setup();
    expect((await withBasic("space-secret", "+")).id).toBe("space-secret");
    await expect(withBasic("space-secret", "%%")).rejects.toMatchObject(refused("malformed Basic credentials"));
  });

  it("says the credentials are malformed when they hold no colon; an empty id names no client", async () => {
    const { authenticator } = setup();
    const header = (raw: string) => `Basic ${Buffer.from(raw).toString("base64")}`;
    await expect(authenticator.authenticate({ authorization: header("basics3cret"), body: {} })).rejects.toMatchObject(refused("malformed Basic credentials"));
    await expect(authenticator.authenticate({ authorization: header(":s3cret"), body: {} })).rejects.toMatchObject(refused("client authentication failed"));
  });

  it("refuses a client_id in the body that is not the authenticated client", async () => {
    const { withBasic } = setup();
    expect((await withBasic("basic", "s3cret", { client_id: "basic" })).id).toBe("basic");
    await expect(withBasic("basic", "s3cret", { client_id: "other" })).rejects.toMatchObject({ code: "invalid_request", status: 400, message: "client_id does not match the authenticated client" });
  });

  it("refuses an unknown client, a client registered for assertions, and a client without a secret", async () => {
    const { withBasic } = setup();
    await expect(withBasic("nobody", "s3cret")).rejects.toMatchObject(refused());
    await expect(withBasic("jwt-with-hash", "s3cret")).rejects.toMatchObject(refused());
    await expect(withBasic("no-secret", "s3cret")).rejects.toMatchObject(refused());
  });

  it("refuses client_secret_post, and two methods at once", async () => {
    const { withBasic, assertion, withAssertion, ready } = setup();
    await ready;
    await expect(withBasic("basic", "s3cret", { client_secret: "s3cret" })).rejects.toMatchObject(refused("client_secret_post is not supported"));
    await expect(withAssertion(await assertion("local"), {}, basic("basic", "s3cret"))).rejects.toMatchObject({ code: "invalid_request", message: "use exactly one client authentication method" });
  });

  it("reads only a header that starts with Basic as Basic credentials", async () => {
    const { assertion, withAssertion, ready } = setup();
    await ready;
    expect((await withAssertion(await assertion("local"), {}, "Bearer basic abc")).id).toBe("local");
    expect((await withAssertion(await assertion("local"), {}, "DPoP abc")).id).toBe("local");
  });

  it("asks for authentication when there is none", async () => {
    const { ready } = setup();
    await ready;
    const plain = createClientAuthenticator({ clients: { get: async () => null, cached: () => undefined }, replay: memoryReplay(), clock: { now: () => new Date() }, config: { publicUrl: ISSUER }, fetch: registrantFetch([]) });
    await expect(plain.authenticate({ body: {} })).rejects.toMatchObject(refused("client authentication is required"));
  });
});

describe("private_key_jwt: the assertion", () => {
  it("accepts a fresh assertion once, and a second one with its own jti", async () => {
    const { ready, assertion, withAssertion } = setup();
    await ready;
    const jwt = await assertion("local");
    expect((await withAssertion(jwt)).id).toBe("local");
    await expect(withAssertion(jwt)).rejects.toMatchObject(refused("client assertion jti was already used"));
    expect((await withAssertion(await assertion("local"))).id).toBe("local");
  });

  it("keeps a used jti until the assertion has expired, by the broker's clock", async () => {
    const { ready, assertion, withAssertion, advance } = setup();
    await ready;
    const jwt = await assertion("local", {});
    expect((await withAssertion(jwt)).id).toBe("local");
    advance(58_000); // still valid (exp is 60 s after iat), so still a replay
    await expect(withAssertion(jwt)).rejects.toMatchObject(refused("client assertion jti was already used"));
  });

  it("checks expiry against the broker's clock, not the machine's", async () => {
    const { ready, assertion, withAssertion, sec } = setup();
    await ready;
    // Valid by real time (an hour behind the broker), expired by the broker's clock.
    const stale = await assertion("local", { iat: sec() - 1800 - 60, exp: sec() - 1800 });
    await expect(withAssertion(stale)).rejects.toMatchObject(refused("client assertion is not valid"));
  });

  it("requires exp and jti, and a jti that is a short string without control characters", async () => {
    const { ready, assertion, withAssertion } = setup();
    await ready;
    await expect(withAssertion(await assertion("local", { exp: undefined }))).rejects.toMatchObject(refused());
    await expect(withAssertion(await assertion("local", { jti: undefined }))).rejects.toMatchObject(refused());
    await expect(withAssertion(await assertion("local", { jti: 42 }))).rejects.toMatchObject(refused("client assertion jti is missing"));
    await expect(withAssertion(await assertion("local", { jti: "j".repeat(201) }))).rejects.toMatchObject(refused("client assertion jti is missing"));
    await expect(withAssertion(await assertion("local", { jti: "j\u0002" }))).rejects.toMatchObject(refused("client assertion jti is missing"));
    expect((await withAssertion(await assertion("local", { jti: "j".repeat(200) }))).id).toBe("local");
  });

  it("limits the lifetime to 300 s, from now and from iat", async () => {
    const { ready, assertion, withAssertion, sec } = setup();
    await ready;
    const tooLong = refused("client assertion lifetime is too long");
    expect((await withAssertion(await assertion("local", { iat: undefined, exp: sec() + 300 }))).id).toBe("local");
    await expect(withAssertion(await assertion("local", { iat: undefined, exp: sec() + 301 }))).rejects.toMatchObject(tooLong);
    expect((await withAssertion(await assertion("local", { iat: sec() - 100, exp: sec() + 200 }))).id).toBe("local");
    await expect(withAssertion(await assertion("local", { iat: sec() - 101, exp: sec() + 200 }))).rejects.toMatchObject(tooLong);
  });

  it("wants iss and sub to be the client, an issuer it knows, and the broker as audience", async () => {
    const { ready, assertion, withAssertion } = setup();
    await ready;
    const mismatch = refused("client assertion iss and sub must be the client_id");
    await expect(withAssertion(await assertion("local", { sub: "someone-else" }))).rejects.toMatchObject(mismatch);
    await expect(withAssertion(await assertion("local", { iss: undefined, sub: undefined }))).rejects.toMatchObject(mismatch);
    await expect(withAssertion(await assertion("local", { iss: 7, sub: 7 }))).rejects.toMatchObject(mismatch);
    await expect(withAssertion(await assertion("nobody"))).rejects.toMatchObject(refused());
    await expect(withAssertion(await assertion("local", { aud: `${ISSUER}/oauth/token` }))).rejects.toMatchObject(refused("client assertion is not valid"));
    await expect(withAssertion(await assertion("local", { aud: [ISSUER] }))).rejects.toMatchObject(refused("client assertion aud must be the issuer, as a single string"));
  });

  it("limits the client id an assertion names to 200 characters without control characters", async () => {
    const { ready, longId, assertion, withAssertion } = setup();
    await ready;
    const id = longId.replace(/x/g, "j");
    expect((await withAssertion(await assertion(id))).id).toBe(id);
    await expect(withAssertion(await assertion(`${id}k`))).rejects.toMatchObject(refused());
    await expect(withAssertion(await assertion("loc\u0003al"))).rejects.toMatchObject(refused());
  });

  it("refuses a client_id in the body that is not the assertion's client", async () => {
    const { ready, assertion, withAssertion } = setup();
    await ready;
    await expect(withAssertion(await assertion("local"), { client_id: "basic" })).rejects.toMatchObject({ code: "invalid_request", message: "client_id does not match the authenticated client" });
    expect((await withAssertion(await assertion("local"), { client_id: "local" })).id).toBe("local");
  });

  it("refuses a client registered for secrets, though it has keys, and a client with no keys", async () => {
    const { ready, assertion, withAssertion } = setup();
    await ready;
    await expect(withAssertion(await assertion("secret-with-keys"))).rejects.toMatchObject(refused("client authentication failed"));
    await expect(withAssertion(await assertion("no-keys"))).rejects.toMatchObject(refused("client authentication failed"));
  });

  it("wants the assertion type and the assertion as a string", async () => {
    const { ready, assertion, withAssertion } = setup();
    await ready;
    const jwt = await assertion("local");
    const unsupported = refused("unsupported client_assertion_type");
    await expect(withAssertion(jwt, { client_assertion_type: "urn:other" })).rejects.toMatchObject(unsupported);
    await expect(withAssertion(jwt, { client_assertion: [jwt] })).rejects.toMatchObject(unsupported);
    await expect(withAssertion(jwt, { client_assertion: undefined })).rejects.toMatchObject(unsupported);
    await expect(withAssertion(jwt, { client_assertion_type: undefined })).rejects.toMatchObject(unsupported);
    await expect(withAssertion("not.a.jwt")).rejects.toMatchObject(refused("malformed client assertion"));
  });

  it("accepts an assertion signed with each algorithm it advertises", async () => {
    const { ready, sec, withAssertion, addClient } = setup();
    await ready;
    for (const alg of ["ES256", "PS256", "RS256", "EdDSA"]) {
      const key = await generateKeyPair(alg);
      const id = `alg-${alg}`;
      addClient({ id, tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [{ ...(await exportJWK(key.publicKey)), kid: alg, alg }] } as never });
      const jwt = await new SignJWT({ iss: id, sub: id, aud: ISSUER, jti: randomUUID(), iat: sec(), exp: sec() + 60 }).setProtectedHeader({ alg, kid: alg }).sign(key.privateKey);
      expect((await withAssertion(jwt)).id).toBe(id);
    }
  });
});

describe("private_key_jwt: keys at a jwks_uri", () => {
  it("verifies with each client's own key set, fetched once and then cached", async () => {
    const { assertion, withAssertion } = setup();
    const before = { a: jwksHits["/a.json"] ?? 0, b: jwksHits["/b.json"] ?? 0 };
    expect((await withAssertion(await assertion("remote-a", {}, keys.a, "a"))).id).toBe("remote-a");
    expect((await withAssertion(await assertion("remote-b", {}, keys.b, "b"))).id).toBe("remote-b");
    expect((await withAssertion(await assertion("remote-a", {}, keys.a, "a"))).id).toBe("remote-a");
    expect((await withAssertion(await assertion("remote-b", {}, keys.b, "b"))).id).toBe("remote-b");
    expect({ a: jwksHits["/a.json"]! - before.a, b: jwksHits["/b.json"]! - before.b }).toEqual({ a: 1, b: 1 });
    // A key set larger than the broker reads from outside is not read at all.
    await expect(withAssertion(await assertion("remote-big", {}, keys.a, "a"))).rejects.toMatchObject(refused("client assertion is not valid"));
    // One client's key does not open another's account.
    await expect(withAssertion(await assertion("remote-b", {}, keys.a, "a"))).rejects.toMatchObject(refused());
  });
});
