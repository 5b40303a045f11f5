import type { Client } from "@link-broker/db";
import type { Sealer } from "../crypto/seal.ts";

/** Context of a sealed client column: `client:<clientId>:<field>` (see ARCHITECTURE.md). */
export type ClientSecretField = "page_access_token" | "app_secret" | "verify_token" | "bank_idp_client_secret";

export const clientSecretContext = (clientId: string, field: ClientSecretField) => `client:${clientId}:${field}`;

export interface MessengerSettings {
  pageId: string;
  pageAccessToken: string;
  appSecret: string;
  verifyToken: string;
}

export interface BankIdpSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  authMethod: "client_secret_basic" | "client_secret_post";
}

type MessengerColumns = Pick<Client, "id" | "messengerPageId" | "messengerPageTokenSealed" | "messengerAppSecretSealed" | "messengerVerifyTokenSealed">;
type BankIdpColumns = Pick<Client, "id" | "bankIdpIssuer" | "bankIdpClientId" | "bankIdpSecretSealed" | "bankIdpAuthMethod">;

/** The client's Messenger settings, or undefined when it registered none. */
export function messengerSettings(client: MessengerColumns, sealer: Sealer): MessengerSettings | undefined {
  const { messengerPageId, messengerPageTokenSealed, messengerAppSecretSealed, messengerVerifyTokenSealed } = client;
  if (!messengerPageId || !messengerPageTokenSealed || !messengerAppSecretSealed || !messengerVerifyTokenSealed) return undefined;
  return {
    pageId: messengerPageId,
    pageAccessToken: sealer.unseal(messengerPageTokenSealed, clientSecretContext(client.id, "page_access_token")),
    appSecret: sealer.unseal(messengerAppSecretSealed, clientSecretContext(client.id, "app_secret")),
    verifyToken: sealer.unseal(messengerVerifyTokenSealed, clientSecretContext(client.id, "verify_token")),
  };
}

/** The broker's relying-party credentials at the client's bank IdP, or undefined. */
export function bankIdpSettings(client: BankIdpColumns, sealer: Sealer): BankIdpSettings | undefined {
  const { bankIdpIssuer, bankIdpClientId, bankIdpSecretSealed } = client;
  if (!bankIdpIssuer || !bankIdpClientId || !bankIdpSecretSealed) return undefined;
  return {
    issuer: bankIdpIssuer,
    clientId: bankIdpClientId,
    clientSecret: sealer.unseal(bankIdpSecretSealed, clientSecretContext(client.id, "bank_idp_client_secret")),
    authMethod: client.bankIdpAuthMethod === "client_secret_post" ? "client_secret_post" : "client_secret_basic",
  };
}
