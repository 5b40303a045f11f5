import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGraph, type FakeGraph } from "../../test/support/fake-graph.ts";
import { createGraphClient, GraphError } from "./graph-client.ts";

describe("Graph client", () => {
  let graph: FakeGraph;
  beforeAll(async () => {
    graph = await startFakeGraph({ pageId: "PAGE-9" });
  });
  afterAll(() => graph?.close());

  const client = (timeoutMs = 5000) => createGraphClient({ baseUrl: graph.url, timeoutMs });
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GraphError);
    expect((err as Error).message).not.toContain(graph.pageAccessToken);
    return (err as GraphError).kind;
  };

  it("resolves a PSID from an account_linking_token", async () => {
    const token = graph.issueToken("PSID-1");
    expect(await client().resolvePsid(token, graph.pageAccessToken)).toEqual({ pageId: "PAGE-9", psid: "PSID-1" });
    expect(graph.calls.at(-1)).toMatchObject({ method: "GET", path: "/me", query: { fields: "recipient", account_linking_token: token, access_token: graph.pageAccessToken } });
  });

  it("types an expired token (OAuthException 10301) apart from outages", async () => {
    const token = graph.issueToken("PSID-2");
    graph.expireToken(token);
    expect(await failure(client().resolvePsid(token, graph.pageAccessToken))).toBe("expired_token");
    expect(await failure(client().resolvePsid(graph.issueToken("x"), "wrong-page-token"))).toBe("rejected");
    graph.fail(1, "500");
    expect(await failure(client().resolvePsid(graph.issueToken("x"), graph.pageAccessToken))).toBe("unavailable");
    graph.fail(1, "garbage");
    expect(await failure(client().resolvePsid(graph.issueToken("x"), graph.pageAccessToken))).toBe("unavailable");
    graph.fail(1, "hang");
    expect(await failure(client(300).resolvePsid(graph.issueToken("x"), graph.pageAccessToken))).toBe("unavailable");
    expect(await failure(createGraphClient({ baseUrl: "http://127.0.0.1:9/v23.0" }).resolvePsid("t", "p"))).toBe("unavailable");
  });

  it("unlinks with a JSON body and the page token in the query", async () => {
    await client().unlinkAccount("PSID-3", graph.pageAccessToken);
    expect(graph.unlinkCalls().at(-1)).toMatchObject({ method: "POST", body: { psid: "PSID-3" }, query: { access_token: graph.pageAccessToken } });
    graph.fail(1);
    expect(await failure(client().unlinkAccount("PSID-3", graph.pageAccessToken))).toBe("unavailable");
  });
});
