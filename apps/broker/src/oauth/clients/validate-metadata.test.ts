import { describe, expect, it } from "vitest";
import { createAddressPolicy } from "../../net/address-policy.ts";
import { GRANT_TYPE_NAMES } from "../token/grants/grant-types.ts";
import { validateMetadata, type ClientMetadata } from "./validate-metadata.ts";

const check = (meta: Partial<ClientMetadata>) => validateMetadata(meta as ClientMetadata, false, createAddressPolicy());

describe("registration reads the grant type table", () => {
  it("gives a client every grant type that serves the scopes it holds", () => {
    expect(check({ scope: "balance:read" }).grantTypes).toEqual(["authorization_code", "refresh_token"]);
    expect(check({ scope: "ledger:check" }).grantTypes).toEqual(["client_credentials"]);
    expect(check({ scope: "balance:read ledger:check" }).grantTypes).toEqual([...GRANT_TYPE_NAMES]);
    expect(check({ grant_types: ["client_credentials"] }).scopes).toEqual(["ledger:check"]);
  });

  it("refuses scopes without the grant type that issues them, and grant types without what they need", () => {
    expect(() => check({ grant_types: ["client_credentials"], scope: "balance:read" })).toThrow("customer scopes need the authorization_code grant type");
    expect(() => check({ grant_types: ["authorization_code"], scope: "balance:read ledger:check" })).toThrow("need the client_credentials grant type");
    expect(() => check({ grant_types: ["authorization_code", "client_credentials"], scope: "balance:read" })).toThrow("client_credentials is only for the service scopes");
    expect(() => check({ grant_types: ["refresh_token"], scope: "balance:read" })).toThrow("customer scopes need the authorization_code grant type");
    expect(() => check({ grant_types: ["refresh_token", "client_credentials"], scope: "ledger:check" })).toThrow("refresh_token needs the authorization_code grant type");
  });

  it("accepts every combination the table allows", () => {
    expect(check({ grant_types: ["authorization_code"], scope: "balance:read" }).grantTypes).toEqual(["authorization_code"]);
    expect(check({ grant_types: ["authorization_code", "refresh_token", "client_credentials"], scope: "balance:read ledger:audit" }).grantTypes).toEqual([...GRANT_TYPE_NAMES]);
  });
});
