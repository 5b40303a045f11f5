import type { Statement, TxSql } from "@link-broker/db";

const INSERT_LINK: Statement = {
  name: "test_link_insert",
  text: `INSERT INTO "link" ("id", "clientId", "subject", "psid", "consentId", "updatedAt") VALUES ($1, $2, $3, $4, $5, now())`,
};

/** An active link row written inside an approval's transaction, for tests that approve without the linking flow. */
export async function insertLink(tx: TxSql, link: { id: string; clientId: string; subject: string; psid: string; consentId: string }): Promise<void> {
  await tx(INSERT_LINK, [link.id, link.clientId, link.subject, link.psid, link.consentId]);
}
