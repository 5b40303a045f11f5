import type { Link } from "@link-broker/db";
import Fastify, { type FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UnlinkOptions } from "../contracts.ts";
import { errorHandlerPlugin } from "../plugins/error-handler.ts";
import { linksRoutes } from "./links-routes.ts";

const created = new Date("2030-01-01T00:00:00Z");
const link = (over: Partial<Link>): Link => ({ id: "l-1", clientId: "bank-a", subject: "cust", psid: "psid-1", status: "active", consentId: "c-1", createdAt: created, updatedAt: created, unlinkedAt: null, unlinkedBy: null, ...over });

/**
 * The routes with the repo and service in memory. `x-test-client` stands for what client
 * authentication sets on the request: absent, no client; `json:<value>`, a client with that id.
 */
async function build(rows: Link[]) {
  const unlinks: { id: string; options: UnlinkOptions }[] = [];
  const lists: [string, string][] = [];
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } } }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(errorHandlerPlugin);
  await app.register(linksRoutes, {
    clientAuth: async (request: FastifyRequest) => {
      const header = request.headers["x-test-client"];
      if (typeof header === "string") Object.assign(request, { client: { id: JSON.parse(header) as unknown } });
    },
    links: {
      find: async (id) => rows.find((r) => r.id === id) ?? null,
      listByPsid: async (clientId, psid) => {
        lists.push([clientId, psid]);
        return rows.filter((r) => r.clientId === clientId && r.psid === psid);
      },
    },
    service: {
      unlink: async (id, options) => {
        unlinks.push({ id, options });
        Object.assign(rows.find((r) => r.id === id)!, { status: "unlinked", unlinkedAt: new Date("2030-01-02T00:00:00Z"), unlinkedBy: options.actor });
        return { status: "unlinked" };
      },
    },
  });
  await app.ready();
  return { app, unlinks, lists };
}

const as = (clientId: unknown) => ({ "x-test-client": JSON.stringify(clientId) });

describe("/links routes", () => {
  let env: Awaited<ReturnType<typeof build>>;
  let rows: Link[];
  beforeEach(async () => {
    rows = [
      link({ id: "l-1", clientId: "bank-a", psid: "psid-1" }),
      link({ id: "l-2", clientId: "bank-b", psid: "psid-1", subject: "other", consentId: null }),
      link({ id: "l-3", clientId: "bank-a", psid: "psid-1", subject: "cust-2", status: "unlinked", unlinkedAt: new Date("2030-01-01T12:00:00Z"), unlinkedBy: "messenger" }),
    ];
    env = await build(rows);
  });
  afterEach(async () => env.app.close());

  it("lists the calling client's links for the PSID, and only the fields of the link view", async () => {
    const res = await env.app.inject({ url: "/links?psid=psid-1", headers: as("bank-a") });
    expect(res.statusCode).toBe(200);
    expect(env.lists).toEqual([["bank-a", "psid-1"]]);
    expect(res.json()).toEqual({
      links: [
        { link_id: "l-1", psid: "psid-1", subject: "cust", status: "active", consent_id: "c-1", created_at: "2030-01-01T00:00:00.000Z", unlinked_at: null, unlinked_by: null },
        { link_id: "l-3", psid: "psid-1", subject: "cust-2", status: "unlinked", consent_id: "c-1", created_at: "2030-01-01T00:00:00.000Z", unlinked_at: "2030-01-01T12:00:00.000Z", unlinked_by: "messenger" },
      ],
    });
    const other = await env.app.inject({ url: "/links?psid=psid-1", headers: as("bank-b") });
    expect(other.json()).toEqual({ links: [expect.objectContaining({ link_id: "l-2", consent_id: null })] });
  });

  it.each([
    ["no client", {}],
    ["a client without an id", as(null)],
    ["an empty client id", as("")],
    ["a client id that is not a string", as(7)],
  ])("refuses a request with %s: 401 invalid_client, nothing read or ended", async (_, headers) => {
    for (const req of [{ method: "GET" as const, url: "/links?psid=psid-1" }, { method: "DELETE" as const, url: "/links/l-1" }]) {
      const res = await env.app.inject({ ...req, headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "invalid_client" });
    }
    expect(env.lists).toEqual([]);
    expect(env.unlinks).toEqual([]);
  });

  it.each([
    ["missing", "/links"],
    ["empty", "/links?psid="],
    ["with a space", "/links?psid=a%20b"],
    ["with a control character", "/links?psid=a%01b"],
    ["over 128 characters", `/links?psid=${"p".repeat(129)}`],
  ])("refuses a PSID %s", async (_, url) => {
    const res = await env.app.inject({ url, headers: as("bank-a") });
    expect(res.statusCode).toBe(400);
    expect(env.lists).toEqual([]);
  });

  it("accepts a PSID of 128 printable characters", async () => {
    expect((await env.app.inject({ url: `/links?psid=${"p".repeat(128)}`, headers: as("bank-a") })).statusCode).toBe(200);
  });

  it("DELETE unlinks the caller's own link as the bank, telling Messenger, and answers the link as it now is", async () => {
    const res = await env.app.inject({ method: "DELETE", url: "/links/l-1", headers: as("bank-a") });
    expect(res.statusCode).toBe(200);
    expect(env.unlinks).toEqual([{ id: "l-1", options: { actor: "bank", reason: "unlinked by the bank", notifyMessenger: true } }]);
    expect(res.json()).toEqual({ link_id: "l-1", psid: "psid-1", subject: "cust", status: "unlinked", consent_id: "c-1", created_at: "2030-01-01T00:00:00.000Z", unlinked_at: "2030-01-02T00:00:00.000Z", unlinked_by: "bank" });
  });

  it("DELETE of another client's link or of an unknown link: the same 404, nothing ended", async () => {
    const foreign = await env.app.inject({ method: "DELETE", url: "/links/l-2", headers: as("bank-a") });
    const unknown = await env.app.inject({ method: "DELETE", url: "/links/l-9", headers: as("bank-a") });
    expect(foreign.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    expect(foreign.json().error).toBe("not_found");
    expect({ ...foreign.json(), request_id: "" }).toEqual({ ...unknown.json(), request_id: "" });
    expect(env.unlinks).toEqual([]);
    expect(rows.find((r) => r.id === "l-2")!.status).toBe("active");
  });

  it.each([
    ["over 64 characters", `/links/${"l".repeat(65)}`],
    ["with a space", "/links/l%201"],
    ["with a control character", "/links/l%011"],
  ])("refuses a link id %s", async (_, url) => {
    const res = await env.app.inject({ method: "DELETE", url, headers: as("bank-a") });
    expect(res.statusCode).toBe(400);
    expect(env.unlinks).toEqual([]);
  });
});
