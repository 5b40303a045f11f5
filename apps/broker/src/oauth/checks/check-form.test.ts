import { Value } from "typebox/value";
import { describe, expect, it } from "vitest";
import { FormBody } from "../oauth-schemas.ts";
import { formBodyError } from "./check-form.ts";

const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, "v"]));

describe("form body check", () => {
  // The loop replaces ajv on the form routes, so it must agree with the schema the OpenAPI document shows.
  const bodies: [string, unknown][] = [
    ["a token request", { grant_type: "client_credentials", scope: "ledger:check" }],
    ["an empty form", {}],
    ["30 parameters", many(30)],
    ["31 parameters", many(31)],
    ["a 4096-character value", { token: "x".repeat(4096) }],
    ["a 4097-character value", { token: "x".repeat(4097) }],
    ["a 100-character name", { ["n".repeat(100)]: "v" }],
    ["a 101-character name", { ["n".repeat(101)]: "v" }],
    ["a repeated parameter", { token: ["a", "b"] }],
    ["a nested value", { token: { a: "b" } }],
  ];
  for (const [name, body] of bodies) {
    it(`agrees with FormBody on ${name}`, () => {
      expect(formBodyError(body) === undefined).toBe(Value.Check(FormBody, body));
    });
  }

  it("names what is wrong, as invalid_request", () => {
    expect(formBodyError({ token: ["a", "b"] })).toMatchObject({ code: "invalid_request", message: "token must be sent once, as a string" });
    expect(formBodyError(many(31))?.message).toMatch(/more than 30 parameters/);
    expect(formBodyError(null)?.code).toBe("invalid_request");
    // A caller's parameter name is echoed only when it is plain ASCII (RFC 6749 §5.2).
    expect(formBodyError({ 'x"\u00e9<': ["a", "b"] })?.message).toBe("a parameter must be sent once, as a string");
  });
});
