import { clientSecretContext } from "../oauth/clients/client-secrets.ts";
import { nonceContext, verifierContext } from "../linking/linking-service.ts";
import { totpSecretContext } from "../linking/totp-service.ts";
import { privateContext } from "../oauth/keys/key-store.ts";

/** A column holding sealed values, with the context each row's value is sealed under. */
export interface SealedColumn {
  /** `<table>.<column>`, as reports name it. */
  readonly name: string;
  readonly table: string;
  readonly idColumn: string;
  readonly column: string;
  readonly context: (id: string) => string;
}

const column = (table: string, idColumn: string, name: string, context: (id: string) => string): SealedColumn => ({
  name: `${table}.${name}`,
  table,
  idColumn,
  column: name,
  context,
});

/**
 * Every sealed column the broker writes. The start-up check opens one value of each, and
 * `keys rewrap` re-seals all of them; a new sealed column belongs here.
 */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  column("signing_key", "kid", "privateJwkSealed", privateContext),
  column("client", "id", "messengerPageTokenSealed", (id) => clientSecretContext(id, "page_access_token")),
  column("client", "id", "messengerAppSecretSealed", (id) => clientSecretContext(id, "app_secret")),
  column("client", "id", "messengerVerifyTokenSealed", (id) => clientSecretContext(id, "verify_token")),
  column("client", "id", "bankIdpSecretSealed", (id) => clientSecretContext(id, "bank_idp_client_secret")),
  column("totp_factor", "id", "secretSealed", totpSecretContext),
  column("link_attempt", "id", "oidcNonceSealed", nonceContext),
  column("link_attempt", "id", "oidcVerifierSealed", verifierContext),
];
