import { describe, expect, it } from "vitest";
import { systemClock } from "../../clock.ts";
import { hashToken, randomToken } from "../../crypto/hash.ts";
import { registrantFetch } from "../../net/outbound-fetch.ts";
import { createClientAuthenticator } from "./authenticate-client.ts";
import type { ClientRow } from "./client-repo.ts";

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

function setup() {
  const secret = randomToken();
  const client = { id: "bank-1", tokenEndpointAuthMethod: "client_secret_basic", secretHash: hashToken(secret) } as ClientRow;
  /** What the client cache would answer at once: the client, while `cache.holds`. */
  const cache = { holds: true };
  const authenticator = createClientAuthenticator({
    clients: { get: async (id) => (id === client.id ? client : null), cached: (id) => (cache.holds && id === client.id ? client : undefined) },
    replay: { consumeOnce: async () => true },
    clock: systemClock,
    config: { publicUrl: "http://127.0.0.1:3000" },
    fetch: registrantFetch([]),
  });
  const auth = (s: string) => authenticator.authenticate({ authorization: basic(client.id, s), body: {} });
  return { secret, client, auth, authenticator, cache };
}

describe("client_secret_basic", () => {
  it("accepts the secret again and again, and still refuses a wrong one of the same length after it", async () => {
    const { secret, auth } = setup();
    expect((await auth(secret)).id).toBe("bank-1");
    expect((await auth(secret)).id).toBe("bank-1");
    const wrong = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
    await expect(auth(wrong)).rejects.toMatchObject({ code: "invalid_client", status: 401 });
    await expect(auth(secret.slice(1))).rejects.toMatchObject({ code: "invalid_client", status: 401 });
    expect((await auth(secret)).id).toBe("bank-1");
  });

  it("refuses a secret once it has been replaced, though it was proven before", async () => {
    const { secret, client, auth } = setup();
    await auth(secret);
    const next = randomToken();
    (client as { secretHash: string }).secretHash = hashToken(next);
    await expect(auth(secret)).rejects.toMatchObject({ code: "invalid_client", status: 401 });
    expect((await auth(next)).id).toBe("bank-1");
  });

  it("reads form-encoded credentials (RFC 6749 §2.3.1)", async () => {
    const { client, auth } = setup();
    (client as { secretHash: string }).secretHash = hashToken("a b+c%");
    expect((await auth(encodeURIComponent("a b+c%").replace(/%20/g, "+"))).id).toBe("bank-1");
  });
});

describe("the memory-only path (a client proven before, no promise)", () => {
  const input = (authorization: string | undefined, body: Record<string, unknown> = {}) => ({ authorization, body });

  it("knows nobody until a secret has been checked against the stored hash", async () => {
    const { secret, auth, authenticator } = setup();
    expect(authenticator.provenFromMemory(input(basic("bank-1", secret)))).toBeUndefined();
    await auth(secret);
    expect(authenticator.provenFromMemory(input(basic("bank-1", secret)))?.id).toBe("bank-1");
  });

  it("never vouches for a wrong, replaced or misplaced secret, nor for a client the cache no longer holds", async () => {
    const { secret, client, auth, authenticator, cache } = setup();
    await auth(secret);
    const wrong = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
    expect(authenticator.provenFromMemory(input(basic("bank-1", wrong)))).toBeUndefined();
    expect(authenticator.provenFromMemory(input(basic("bank-2", secret)))).toBeUndefined();
    // Ambiguous or refused methods are left to `authenticate`, which answers the error.
    expect(authenticator.provenFromMemory(input(basic("bank-1", secret), { client_secret: secret }))).toBeUndefined();
    expect(authenticator.provenFromMemory(input(basic("bank-1", secret), { client_assertion: "x" }))).toBeUndefined();
    expect(authenticator.provenFromMemory(input(basic("bank-1", secret), { client_id: "bank-2" }))).toBeUndefined();
    expect(authenticator.provenFromMemory(input("Basic %%%"))).toBeUndefined();
    expect(authenticator.provenFromMemory(input(undefined))).toBeUndefined();
    cache.holds = false;
    expect(authenticator.provenFromMemory(input(basic("bank-1", secret)))).toBeUndefined();
    cache.holds = true;
    (client as { secretHash: string }).secretHash = hashToken(randomToken());
    expect(authenticator.provenFromMemory(input(basic("bank-1", secret)))).toBeUndefined();
  });
});
