// Checks a response against what the broker's OpenAPI document (the live `app.swagger()`, the
// same document packages/client is generated from) declares for its route and status: the status
// must be declared, and a JSON body must match the declared schema (ajv, JSON Schema 2020-12 as
// OpenAPI 3.1 uses, with formats). Fuzzing runs every answer through it.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { FastifyInstance } from "fastify";

// ajv-formats is CommonJS; its default export arrives as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;

type Json = Record<string, unknown>;

/** `#/...` references replaced by what they point at (the document has no cycles). */
function deref(doc: Json, value: unknown, depth = 0): unknown {
  if (depth > 40) throw new Error("reference too deep");
  if (Array.isArray(value)) return value.map((v) => deref(doc, v, depth + 1));
  if (!value || typeof value !== "object") return value;
  const ref = (value as Json).$ref;
  if (typeof ref === "string" && ref.startsWith("#/")) {
    const target = ref
      .slice(2)
      .split("/")
      .reduce<unknown>((at, key) => (at as Json)?.[key.replaceAll("~1", "/").replaceAll("~0", "~")], doc);
    if (target === undefined) throw new Error(`unresolved ${ref}`);
    return deref(doc, target, depth + 1);
  }
  return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, deref(doc, v, depth + 1)]));
}

interface Route {
  method: string;
  pattern: RegExp;
  template: string;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

export interface ResponseCheck {
  /** Undefined when the answer is what the document declares; else what is wrong. */
  problem?: string;
  /** The route template the request matched, and whether a body schema was checked. */
  route?: string;
  validated: boolean;
}

export function createResponseChecker(app: FastifyInstance) {
  const doc = app.swagger() as unknown as Json;
  const routes: Route[] = [];
  for (const [template, ops] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^/}]+\\?\}/g, "[^/]+")}$`);
    for (const [method, op] of Object.entries(ops)) {
      if (!op || typeof op !== "object" || !("responses" in op)) continue;
      routes.push({ method: method.toUpperCase(), pattern, template, responses: deref(doc, op.responses) as Route["responses"] });
    }
  }
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const compiled = new Map<unknown, ValidateFunction>();
  const validatorOf = (schema: unknown) => {
    let v = compiled.get(schema);
    if (!v) {
      v = ajv.compile(schema as Json);
      compiled.set(schema, v);
    }
    return v;
  };

  return function check(method: string, url: string, res: { statusCode: number; headers: Record<string, unknown>; body: string }): ResponseCheck {
    const path = url.split("?")[0]!.replace(/\/$/, "") || "/";
    // A template without parameters wins over one with: /console/consents/export, not /{id}.
    const candidates = routes.filter((r) => r.method === method.toUpperCase() && r.pattern.test(path));
    const route = candidates.find((r) => !r.template.includes("{")) ?? candidates[0];
    if (!route) return { problem: `${method} ${path} is not in the OpenAPI document`, validated: false };
    const status = String(res.statusCode);
    const declared = route.responses[status] ?? route.responses[`${status[0]}XX`] ?? route.responses.default;
    if (!declared) return { route: route.template, problem: `${method} ${route.template} answered ${status}, which the document does not declare (${Object.keys(route.responses).join(", ")})`, validated: false };
    const type = String(res.headers["content-type"] ?? "").split(";")[0]!.trim();
    const content = declared.content ?? {};
    if (Object.keys(content).length === 0) return { route: route.template, validated: false };
    if (type && !(type in content)) return { route: route.template, problem: `${method} ${route.template} ${status} answered ${type}, declared ${Object.keys(content).join(", ")}`, validated: false };
    const schema = content[type]?.schema;
    if (!type.endsWith("json") || schema === undefined) return { route: route.template, validated: false };
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      return { route: route.template, problem: `${method} ${route.template} ${status}: the body is not JSON`, validated: false };
    }
    const validate = validatorOf(schema);
    if (!validate(body)) return { route: route.template, problem: `${method} ${route.template} ${status}: ${ajv.errorsText(validate.errors)} in ${res.body.slice(0, 300)}`, validated: true };
    return { route: route.template, validated: true };
  };
}
