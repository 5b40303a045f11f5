// The request checks of the OAuth and linking endpoints, at their edges: which content types a
// body may have, the form's limits, which scopes a client may ask for and how, and the purposes
// and duration of a consent. Each test is a check whose removal the suite did not notice
// (mutation testing).
import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { FORM_LIMITS, formBodyError, formBodyValidator, formContentTypeError, jsonContentTypeError } from "./check-form.ts";
import { checkConsentDuration, checkPairs, checkPurposes } from "./check-purposes.ts";
import { checkCustomerScope, checkNarrowedScope, checkOptionalScope, checkServiceScope } from "./check-scope.ts";

const withType = (type?: string) => ({ headers: type === undefined ? {} : { "content-type": type } }) as FastifyRequest;
const refusal = (code: string, message: string | RegExp) => ({ code, message: typeof message === "string" ? message : expect.stringMatching(message) });

describe("content types", () => {
  it("takes a form body with or without parameters, in any case, and nothing else", () => {
    for (const t of ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8", "APPLICATION/X-WWW-FORM-URLENCODED"]) expect(formContentTypeError(withType(t))).toBeUndefined();
    for (const t of [undefined, "", "text/plain", "application/json", "application/x-www-form-urlencodedx", " application/x-www-form-urlencoded", "multipart/form-data; x=application/x-www-form-urlencoded"]) {
      expect(formContentTypeError(withType(t))).toMatchObject(refusal("invalid_request", "the body must be application/x-www-form-urlencoded"));
    }
  });

  it("takes JSON with or without parameters for registration, and answers anything else with 415", () => {
    for (const t of ["application/json", "application/json; charset=utf-8", "Application/JSON ;charset=utf-8"]) expect(jsonContentTypeError(withType(t))).toBeUndefined();
    for (const t of [undefined, "application/jsonp", "application/json-patch+json", "text/json", "x application/json"]) {
      expect(jsonContentTypeError(withType(t))).toMatchObject({ ...refusal("invalid_request", "the body must be application/json"), status: 415 });
    }
  });
});

describe("form bodies", () => {
  it("refuses a body that is not a form, and names a parameter only when its name is printable and short", () => {
    for (const body of [null, undefined, "grant_type=x", 42]) expect(formBodyError(body)).toMatchObject(refusal("invalid_request", "the body must be a form"));
    expect(formBodyError({ ["a".repeat(40)]: ["x", "y"] })?.message).toBe(`${"a".repeat(40)} must be sent once, as a string`);
    expect(formBodyError({ ["a".repeat(41)]: ["x", "y"] })?.message).toBe("a parameter must be sent once, as a string");
    expect(formBodyError({ "bad name": ["x"] })?.message).toBe("a parameter must be sent once, as a string");
    expect(formBodyError({ token: "x".repeat(FORM_LIMITS.maxValue + 1) })?.message).toBe("token must not be longer than 4096 characters");
    expect(formBodyError({ ["n".repeat(101)]: "v" })?.message).toBe("a parameter name is longer than 100 characters");
  });

  it("counts only the form's own parameters", () => {
    const inherited = Object.assign(Object.create({ extra: ["not", "own"] }), { grant_type: "client_credentials" });
    expect(formBodyError(inherited)).toBeUndefined();
  });

  it("answers as the schema compiler Fastify expects: true, or the error", () => {
    const validate = formBodyValidator({} as never) as (body: unknown) => unknown;
    expect(validate({ grant_type: "client_credentials" })).toBe(true);
    expect(validate({ token: ["a", "b"] })).toEqual({ error: expect.objectContaining({ code: "invalid_request" }) });
  });
});

describe("scopes a link may ask for", () => {
  const registered = ["balance:read", "alerts:fraud", "ledger:check"];

  it("returns the requested customer scopes, each once", () => {
    expect(checkCustomerScope("balance:read alerts:fraud balance:read", registered)).toEqual(["balance:read", "alerts:fraud"]);
  });

  it("refuses a missing scope, a forbidden one, an unknown one, a service scope and an unregistered one", () => {
    for (const s of [undefined, "", "   ", 7]) expect(() => checkCustomerScope(s, registered)).toThrow(expect.objectContaining(refusal("invalid_scope", "scope is required")));
    expect(() => checkCustomerScope("balance:read advertising", registered)).toThrow(expect.objectContaining(refusal("invalid_scope", "advertising is never allowed")));
    expect(() => checkCustomerScope("balance:write", registered)).toThrow(expect.objectContaining(refusal("invalid_scope", "unknown scope balance:write")));
    expect(() => checkCustomerScope("ledger:check", registered)).toThrow(expect.objectContaining(refusal("invalid_scope", "ledger:check is a service scope, only for client_credentials")));
    expect(() => checkCustomerScope("support:chat", registered)).toThrow(expect.objectContaining(refusal("invalid_scope", "support:chat is not registered for this client")));
  });

  it("takes optional scopes checked like scope, none of them also required", () => {
    expect(checkOptionalScope(undefined, registered, ["balance:read"])).toEqual([]);
    expect(checkOptionalScope("", registered, ["balance:read"])).toEqual([]);
    expect(checkOptionalScope("alerts:fraud", registered, ["balance:read"])).toEqual(["alerts:fraud"]);
    for (const o of ["  ", 3, ["alerts:fraud"]]) expect(() => checkOptionalScope(o, registered, ["balance:read"])).toThrow(expect.objectContaining(refusal("invalid_scope", "optional_scope must be a space-separated string")));
    expect(() => checkOptionalScope("alerts:fraud balance:read", registered, ["balance:read"])).toThrow(expect.objectContaining(refusal("invalid_scope", "balance:read is in both scope and optional_scope")));
    expect(() => checkOptionalScope("support:chat", registered, ["balance:read"])).toThrow(expect.objectContaining(refusal("invalid_scope", "support:chat is not registered for this client")));
  });
});

describe("scopes of client_credentials and of a refresh", () => {
  it("defaults to the client's registered service scopes, and refuses a client that has none", () => {
    expect(checkServiceScope(undefined, ["balance:read", "ledger:check", "ledger:audit"])).toEqual(["ledger:check", "ledger:audit"]);
    expect(checkServiceScope("", ["ledger:audit"])).toEqual(["ledger:audit"]);
    expect(() => checkServiceScope(undefined, ["balance:read"])).toThrow(expect.objectContaining(refusal("invalid_scope", "this client has no service scope")));
  });

  it("refuses a customer scope, an unregistered service scope and a non-string", () => {
    expect(checkServiceScope("ledger:check ledger:check", ["ledger:check"])).toEqual(["ledger:check"]);
    expect(() => checkServiceScope("balance:read", ["balance:read", "ledger:check"])).toThrow(expect.objectContaining(refusal("invalid_scope", /^balance:read is not available with client_credentials/)));
    expect(() => checkServiceScope("ledger:audit", ["ledger:check"])).toThrow(expect.objectContaining(refusal("invalid_scope", "ledger:audit is not registered for this client")));
    expect(() => checkServiceScope(["ledger:check"], ["ledger:check"])).toThrow(expect.objectContaining(refusal("invalid_scope", "scope must be a string")));
  });

  it("lets a refresh narrow the granted scopes, never widen them", () => {
    const granted = ["balance:read", "alerts:fraud"];
    const all = checkNarrowedScope(undefined, granted);
    expect(all).toEqual(granted);
    all.push("changed");
    expect(granted).toEqual(["balance:read", "alerts:fraud"]);
    expect(checkNarrowedScope("", granted)).toEqual(granted);
    expect(checkNarrowedScope("alerts:fraud", granted)).toEqual(["alerts:fraud"]);
    expect(() => checkNarrowedScope("alerts:fraud support:chat", granted)).toThrow(expect.objectContaining(refusal("invalid_scope", "support:chat was not granted")));
    expect(() => checkNarrowedScope(5, granted)).toThrow(expect.objectContaining(refusal("invalid_scope", "scope must be a string")));
  });
});

describe("purposes and duration of a consent", () => {
  it("defaults purposes per scope; takes named ones once; refuses unknown and forbidden ones", () => {
    expect(checkPurposes("", ["balance:read"])).toEqual(["account_servicing"]);
    expect(checkPurposes("fraud_alerts  fraud_alerts account_servicing", ["balance:read", "alerts:fraud"])).toEqual(["fraud_alerts", "account_servicing"]);
    expect(() => checkPurposes(["fraud_alerts"], ["alerts:fraud"])).toThrow(expect.objectContaining(refusal("invalid_request", "purpose must be a space-separated string")));
    expect(() => checkPurposes("Marketing", ["alerts:fraud"])).toThrow(expect.objectContaining(refusal("invalid_request", "purpose Marketing is refused: the broker never allows advertising, marketing or profiling")));
    expect(() => checkPurposes("fraud_alerts lottery", ["alerts:fraud"])).toThrow(expect.objectContaining(refusal("invalid_request", "unknown purpose lottery")));
  });

  it("pairs scopes with purposes by the ledger's rule, and refuses a purpose no scope serves as a bad request", () => {
    expect(checkPairs(["transactions:read"], ["transaction_notifications"])).toEqual([{ scope: "transactions:read", purpose: "transaction_notifications" }]);
    expect(() => checkPairs(["balance:read"], ["fraud_alerts"])).toThrow(expect.objectContaining({ code: "invalid_request", status: 400 }));
  });

  it("takes a duration of 1 to 365 whole days, as text or number, and 90 by default", () => {
    expect(checkConsentDuration(undefined)).toBe(90);
    expect(checkConsentDuration("")).toBe(90);
    for (const [v, n] of [["1", 1], ["365", 365], ["030", 30], [7, 7]] as const) expect(checkConsentDuration(v)).toBe(n);
    for (const v of ["0", "366", "1000", "12.5", "-1", " 5", "5 ", "1e2", 0, 366, 2.5, Number.NaN, null]) {
      expect(() => checkConsentDuration(v)).toThrow(expect.objectContaining(refusal("invalid_request", "consent_duration_days must be an integer from 1 to 365")));
    }
  });
});
