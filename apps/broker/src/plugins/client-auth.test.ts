import type { FastifyReply, FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import type { ClientAuthInput } from "../oauth/clients/authenticate-client.ts";
import type { ClientRow } from "../oauth/clients/client-repo.ts";
import { OAuthError } from "../errors.ts";
import { createClientAuth, endpointUrl } from "./client-auth.ts";

const bank = { id: "bank-a" } as ClientRow;

function setup() {
  const inputs: ClientAuthInput[] = [];
  const auth = createClientAuth({
    publicUrl: "https://broker.example",
    authenticator: {
      authenticate: async (input) => {
        inputs.push(input);
        if (input.authorization !== "Basic good") throw new OAuthError("invalid_client", "client authentication failed", 401);
        return bank;
      },
      // Nothing proven in memory: every request takes `authenticate`.
      provenFromMemory: () => undefined,
    },
  });
  return { ...auth, inputs };
}
const request = (authorization: string | undefined, body: unknown) => ({ headers: authorization === undefined ? {} : { authorization }, body }) as FastifyRequest;

describe("client authentication preHandler", () => {
  it("hands the Authorization header and the form to the authenticator, and sets the client", async () => {
    const { clientAuth, inputs } = setup();
    const req = request("Basic good", { client_id: "bank-a", token: "t" });
    await clientAuth.call({} as never, req, {} as FastifyReply);
    expect(inputs).toEqual([{ authorization: "Basic good", body: { client_id: "bank-a", token: "t" } }]);
    expect(req.client).toBe(bank);
  });

  it.each([
    ["no body", undefined],
    ["a null body", null],
    ["a text body", "client_id=bank-a"],
  ])("a request with %s authenticates with an empty form", async (_, body) => {
    const { authenticateRequest, inputs } = setup();
    await authenticateRequest(request("Basic good", body));
    expect(inputs).toEqual([{ authorization: "Basic good", body: {} }]);
  });

  it("a refused client sets nothing and the refusal goes to the caller", async () => {
    const { clientAuth } = setup();
    const req = request("Basic bad", {});
    await expect(clientAuth.call({} as never, req, {} as FastifyReply)).rejects.toMatchObject({ code: "invalid_client", status: 401 });
    expect(req.client).toBeUndefined();
  });
});

describe("endpointUrl", () => {
  it("is the public URL and the path, without the query", () => {
    expect(endpointUrl("https://broker.example", { url: "/oauth/token?x=1&y=2" } as FastifyRequest)).toBe("https://broker.example/oauth/token");
    expect(endpointUrl("https://broker.example", { url: "/links" } as FastifyRequest)).toBe("https://broker.example/links");
  });
});
