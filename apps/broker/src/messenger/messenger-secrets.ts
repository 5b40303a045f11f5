import type { Client } from "@link-broker/db";
import type { Sealer } from "../crypto/seal.ts";
import { clientSecretContext } from "../oauth/clients/client-secrets.ts";

/** A bank client's Messenger page, as registered (`messenger` metadata), unsealed. */
export interface MessengerSettings {
  pageId: string;
  pageAccessToken: string;
  appSecret: string;
  verifyToken: string;
}

type MessengerColumns = Pick<Client, "id" | "messengerPageId" | "messengerPageTokenSealed" | "messengerAppSecretSealed" | "messengerVerifyTokenSealed">;

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
