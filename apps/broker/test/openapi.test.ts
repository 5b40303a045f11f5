import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bodyContentType } from "../src/openapi/content-types.ts";
import { OPENAPI_WRITE_COMMAND, openApiFile } from "../src/openapi/openapi-document.ts";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "./support/app.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };

type Operation = {
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { $ref?: string; headers?: Record<string, unknown> }>;
};
type Doc = {
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown>; responses: Record<string, { headers?: Record<string, unknown> }>; headers: Record<string, { description: string }> };
};

describe("the OpenAPI document", () => {
  let broker: TestBroker;
  let doc: Doc;
  const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));

  beforeAll(async () => {
    broker = await startTestBroker();
    const res = await broker.app.inject({ url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => broker?.close());

  it("passes Redocly's recommended lint with no errors", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "lb-openapi-")), "openapi.json");
    writeFileSync(file, JSON.stringify(doc));
    const bin = join(root, "node_modules", ".bin", "redocly");
    const run = await promisify(execFile)(bin, ["lint", file, "--config", join(root, "redocly.yaml"), "--format", "json"], { cwd: root }).catch((err: { stdout: string; stderr: string }) => err);
    const report = JSON.parse(run.stdout) as { totals: { errors: number }; problems: { ruleId: string; severity: string; message: string }[] };
    expect(report.problems.filter((p) => p.severity === "error")).toEqual([]);
    expect(report.totals.errors).toBe(0);
  }, 60_000);

  it("is the document packages/client is generated from", () => {
    const committed = readFileSync(join(root, "..", "..", "packages", "client", "openapi.json"), "utf8");
    expect(committed === openApiFile(broker.app), `packages/client/openapi.json is out of date: run \`${OPENAPI_WRITE_COMMAND}\` from the repository root`).toBe(true);
  });

  it("has the package's version, an operationId on every operation, and every security scheme it uses", () => {
    expect(doc.info.version).toBe(pkg.version);
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const name of ["client_secret_basic", "private_key_jwt", "bearer", "dpop", "initial_access_token", "registration_access_token", "staff_session"]) {
      expect(doc.components.securitySchemes).toHaveProperty(name);
    }
    for (const { op } of operations()) for (const requirement of op.security ?? []) for (const name of Object.keys(requirement)) expect(doc.components.securitySchemes).toHaveProperty(name);
    expect(doc.paths["/oauth/token"]!.post!.security).toEqual([{ client_secret_basic: [] }, { private_key_jwt: [] }]);
  });

  it("documents the error responses, 429 with Retry-After on the rate-limited endpoints", () => {
    for (const path of ["/oauth/token", "/par", "/oauth/introspect", "/oauth/revoke", "/connect/register"]) {
      const op = doc.paths[path]!.post!;
      expect(op.responses["429"]?.$ref, path).toBe("#/components/responses/OAuthError429");
      expect(op.responses["400"], path).toBeDefined();
      expect(op.responses["401"], path).toBeDefined();
    }
    expect(doc.components.responses.OAuthError429!.headers).toHaveProperty("Retry-After");
    const links = doc.paths["/links"]!.get!;
    expect(links.responses["401"]?.$ref).toBe("#/components/responses/Error401");
    for (const { path, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect(statuses.some((s) => /^[45]/.test(s)), `${method} ${path}`).toBe(true);
    }
  });

  it("documents RateLimit-Policy and RateLimit on every answer of a rate-limited endpoint, and Retry-After on its 429", () => {
    const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
    const check = doc.paths["/ledger/check"]!.post!;
    for (const name of ["RateLimit-Policy", "RateLimit", "Retry-After"]) expect(doc.components.headers[name]?.description, name).toBeTruthy();
    const limited: [path: string, method: string, response429: string][] = [
      ["/oauth/token", "post", "OAuthError429"],
      ["/par", "post", "OAuthError429"],
      ["/oauth/introspect", "post", "OAuthError429"],
      ["/oauth/revoke", "post", "OAuthError429"],
      ["/connect/register", "post", "OAuthError429"],
      ["/connect/register/{client_id}", "get", "OAuthError429"],
      ["/connect/register/{client_id}", "put", "OAuthError429"],
      ["/connect/register/{client_id}", "delete", "OAuthError429"],
      ["/events/poll", "post", "Error429"],
      ["/link", "get", "Page429"],
      ["/link/2fa", "get", "Page429"],
      ["/link/2fa", "post", "Page429"],
    ];
    for (const [path, method, response429] of limited) {
      const op = doc.paths[path]![method]!;
      expect(op.responses["429"]?.$ref, `${method} ${path}`).toBe(`#/components/responses/${response429}`);
      const successes = Object.entries(op.responses).filter(([status]) => /^[23]/.test(status));
      expect(successes.length, `${method} ${path}`).toBeGreaterThan(0);
      for (const [status, response] of successes) {
        expect(response.headers, `${method} ${path} ${status}`).toMatchObject({ "RateLimit-Policy": ref("RateLimit-Policy"), RateLimit: ref("RateLimit") });
      }
    }
    // Their JSON refusals (400, 401, ...) were counted before they were refused: the fields are on them too.
    for (const [path, method] of limited.filter(([, , r]) => r !== "Page429")) {
      const refusals = Object.entries(doc.paths[path]![method]!.responses).filter(([status]) => /^4/.test(status) && status !== "429");
      expect(refusals.length, `${method} ${path}`).toBeGreaterThan(0);
      for (const [status, response] of refusals) {
        const shared = doc.components.responses[String(response.$ref).split("/").pop()!]!;
        expect(shared.headers, `${method} ${path} ${status}`).toMatchObject({ "RateLimit-Policy": ref("RateLimit-Policy"), RateLimit: ref("RateLimit") });
      }
    }
    // An endpoint without a limit keeps the shared refusals, which claim no fields.
    expect(doc.paths["/links"]!.get!.responses["401"]?.$ref).toBe("#/components/responses/Error401");
    expect(doc.components.responses.Error401!.headers).not.toHaveProperty("RateLimit");
    for (const name of ["OAuthError429", "Error429", "Page429"]) {
      expect(doc.components.responses[name]!.headers, name).toEqual({ "Retry-After": ref("Retry-After"), "RateLimit-Policy": ref("RateLimit-Policy"), RateLimit: ref("RateLimit") });
    }
    // An endpoint without a limit claims none.
    expect(check.responses["429"]).toBeUndefined();
    expect(check.responses["200"]!.headers ?? {}).not.toHaveProperty("RateLimit");
  });

  it("documents the non-JSON bodies as what they are", () => {
    expect(Object.keys((doc.paths["/metrics"]!.get!.responses["200"] as { content: object }).content)).toEqual(["text/plain"]);
    expect(Object.keys((doc.paths["/ledger/export"]!.get!.responses["200"] as { content: object }).content)).toEqual(["application/x-ndjson", "text/csv"]);
    expect(Object.keys((doc.paths["/link"]!.get!.responses["200"] as { content: object }).content)).toEqual(["text/html"]);
  });

  it("documents for each request body the one content type its route accepts", async () => {
    const withBody = operations().filter(({ op }) => op.requestBody);
    expect(withBody.map(({ method, path }) => `${method} ${path}`)).toEqual(
      expect.arrayContaining(["POST /oauth/token", "POST /par", "POST /oauth/introspect", "POST /oauth/revoke", "POST /connect/register", "POST /ledger/check", "POST /link/2fa", "POST /link/consent"]),
    );
    const bodies: Record<string, string> = {
      "application/x-www-form-urlencoded": "grant_type=client_credentials&scope=ledger%3Acheck&token=x&code=1&decision=deny",
      "application/json": JSON.stringify({ client_name: "x", scope: "ledger:check", object: "page", entry: [] }),
    };
    const headers = { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` };
    const refusedType = (res: { statusCode: number; body: string }) => res.statusCode === 415 || /must be application\//.test(res.body);
    for (const { path, method, op } of withBody) {
      const documented = Object.keys(op.requestBody!.content);
      expect(documented, `${method} ${path}`).toHaveLength(1);
      const type = documented[0]!;
      const url = path.replace(/\{[^}]+\}/g, "unknown-id");
      const accepted = await broker.app.inject({ method: method as "POST", url, headers: { ...headers, "content-type": type }, payload: bodies[type] });
      expect(refusedType(accepted), `${method} ${path} refused its documented ${type}: ${accepted.statusCode} ${accepted.body.slice(0, 200)}`).toBe(false);
      // The raw-body webhook takes what Messenger sends and checks the signature instead.
      if (path.startsWith("/messenger/")) continue;
      const other = type === "application/json" ? "application/x-www-form-urlencoded" : "application/json";
      const refused = await broker.app.inject({ method: method as "POST", url, headers: { ...headers, "content-type": other }, payload: bodies[other] });
      expect(refusedType(refused), `${method} ${path} took ${other}: ${refused.statusCode} ${refused.body.slice(0, 200)}`).toBe(true);
      expect(refused.statusCode).toBeLessThan(500);
    }
  });

  it("takes HTML forms on the webview and console paths, a route's own consumes first, JSON otherwise", () => {
    expect(bodyContentType({ url: "/console/login", schema: {} })).toBe("application/x-www-form-urlencoded");
    expect(bodyContentType({ url: "/link/2fa", schema: {} })).toBe("application/x-www-form-urlencoded");
    expect(bodyContentType({ url: "/links", schema: {} })).toBe("application/json");
    expect(bodyContentType({ url: "/events/poll", schema: { consumes: ["application/secevent+jwt"] } as never })).toBe("application/secevent+jwt");
  });
});
