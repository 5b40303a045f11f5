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
  const authenticator = createClientAuthenticator({
    clients: { get: async (id) => (id === client.id ? client : null) },
    replay: { consumeOnce: async () => true },
    clock: systemClock,
    config: { publicUrl: "http://127.0.0.1:3000" },
    fetch: registrantFetch([]),
  });
  const auth = (s: string) => authenticator.authenticate({ authorization: basic(client.id, s), body: {} });
  return { secret, client, auth };
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
