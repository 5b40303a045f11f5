import { describe, expect, it } from "vitest";
import { parseCidrList } from "../net/address-policy.ts";
import { registrantFetch } from "../net/outbound-fetch.ts";
import { BankIdpError, createBankIdp } from "./bank-idp.ts";

const fetch = registrantFetch(parseCidrList("127.0.0.0/8"));

describe("bank relying party", () => {
  const settings = { issuer: "http://bank.example", clientId: "c", clientSecret: "s", authMethod: "client_secret_basic" as const };

  it("refuses plain-http issuers off loopback, and any http issuer in production", async () => {
    const dev = createBankIdp({ redirectUri: "http://127.0.0.1:3000/link/callback", production: false, fetch });
    await expect(dev.authorizationRequest(settings)).rejects.toMatchObject({ kind: "misconfigured" });
    const prod = createBankIdp({ redirectUri: "https://broker.example/link/callback", production: true, fetch });
    const err = await prod.authorizationRequest({ ...settings, issuer: "http://127.0.0.1:9" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BankIdpError);
    expect((err as BankIdpError).kind).toBe("misconfigured");
  });

  it("reports an unreachable issuer as unavailable", async () => {
    const dev = createBankIdp({ redirectUri: "http://127.0.0.1:3000/link/callback", production: false, timeoutSeconds: 1, fetch });
    await expect(dev.authorizationRequest({ ...settings, issuer: "http://127.0.0.1:9" })).rejects.toMatchObject({ kind: "unavailable" });
  });
});
