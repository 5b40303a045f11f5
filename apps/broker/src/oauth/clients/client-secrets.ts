/**
 * Context of a sealed client column: `client:<clientId>:<field>` (see ARCHITECTURE.md).
 * Registration seals with it; Messenger (messenger-secrets.ts) and the linking flow
 * (bank-idp.ts) unseal with it: one definition for both sides.
 */
export type ClientSecretField = "page_access_token" | "app_secret" | "verify_token" | "bank_idp_client_secret";

export const clientSecretContext = (clientId: string, field: ClientSecretField) => `client:${clientId}:${field}`;
