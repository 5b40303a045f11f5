import { randomUUID } from "node:crypto";
import type { Db, Link, Statement, Tx, TxSql } from "@link-broker/db";

const LINK_COLUMNS = `"id", "clientId", "subject", "psid", "status"::text AS "status", "consentId", "createdAt", "updatedAt", "unlinkedAt", "unlinkedBy"`;
// The insert, or on conflict a no-op update that locks the existing row (a concurrent insert of
// the same key waits here for the other transaction to end).
const ACTIVATE: Statement = {
  name: "lb_link_activate",
  text: `INSERT INTO "link" ("id", "clientId", "subject", "psid", "status", "createdAt", "updatedAt")
    VALUES ($1, $2, $3, $4, 'active', $5::timestamp(3), $5::timestamp(3))
    ON CONFLICT ("clientId", "subject", "psid") DO UPDATE SET "clientId" = EXCLUDED."clientId"
    RETURNING ${LINK_COLUMNS}`,
};
const REACTIVATE: Statement = {
  name: "lb_link_reactivate",
  text: `UPDATE "link" SET "status" = 'active', "unlinkedAt" = NULL, "unlinkedBy" = NULL, "updatedAt" = $2::timestamp(3) WHERE "id" = $1 RETURNING ${LINK_COLUMNS}`,
};
const SET_CONSENT: Statement = { name: "lb_link_set_consent", text: `UPDATE "link" SET "consentId" = $2, "updatedAt" = $3::timestamp(3) WHERE "id" = $1` };

/** Links between a bank customer (client + `sub`) and a Messenger PSID. */
export function createLinksRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    /**
     * The link for (client, subject, psid), made active; re-linking reuses the row. Answers
     * whether it was already active (its consent is then renewed or replaced rather than granted
     * anew). The row stays locked until the caller's transaction ends, so two approvals for one
     * link run one after the other and the second decides from what the first committed.
     */
    async activate(tx: TxSql, key: { clientId: string; subject: string; psid: string }): Promise<{ link: Link; wasActive: boolean }> {
      const id = randomUUID();
      const now = new Date();
      const [link] = await tx<Link>(ACTIVATE, [id, key.clientId, key.subject, key.psid, now]);
      const wasActive = link!.id !== id && link!.status === "active";
      if (link!.status !== "active") return { link: (await tx<Link>(REACTIVATE, [link!.id, now]))[0]!, wasActive };
      return { link: link!, wasActive };
    },

    async setConsent(tx: TxSql, linkId: string, consentId: string): Promise<void> {
      await tx(SET_CONSENT, [linkId, consentId, new Date()]);
    },

    find(id: string): Promise<Link | null> {
      return prisma.link.findUnique({ where: { id } });
    },

    listByPsid(clientId: string, psid: string): Promise<Link[]> {
      return prisma.link.findMany({ where: { clientId, psid }, orderBy: { createdAt: "asc" }, take: 100 });
    },

    /** A bank customer's active links at one bank (one per Messenger account they linked). */
    activeBySubject(clientId: string, subject: string): Promise<Link[]> {
      return prisma.link.findMany({ where: { clientId, subject, status: "active" }, take: 100 });
    },

    activeByPsid(clientId: string, psid: string): Promise<Link[]> {
      return prisma.link.findMany({ where: { clientId, psid, status: "active" } });
    },

    /**
     * active → unlinked, once; answers whether this call made the change. With `consentId`, only
     * while the link still holds that consent (a re-link may have given it a new one meanwhile).
     * `alsoInTx` runs in the same transaction when the change happens (e.g. enqueueing the job
     * that tells Messenger), so a crash cannot keep one without the other.
     */
    async markUnlinked<T>(
      id: string,
      actor: string,
      now: Date,
      consentId?: string,
      alsoInTx?: (tx: Tx) => Promise<T>,
    ): Promise<{ changed: boolean; also?: T }> {
      return prisma.$transaction(async (tx) => {
        const { count } = await tx.link.updateMany({
          where: { id, status: "active", ...(consentId !== undefined ? { consentId } : {}) },
          data: { status: "unlinked", unlinkedAt: now, unlinkedBy: actor },
        });
        if (count !== 1) return { changed: false };
        return { changed: true, also: alsoInTx ? await alsoInTx(tx) : undefined };
      });
    },

    /**
     * Active links holding a consent, in id order after `afterId` (keyset pages). The reconciler
     * asks the ledger which of their consents ended; the ledger's tables are its own.
     */
    async activeWithConsent(afterId: string | undefined, limit: number): Promise<{ id: string; consentId: string }[]> {
      const rows = await prisma.link.findMany({
        where: { status: "active", consentId: { not: null }, ...(afterId !== undefined ? { id: { gt: afterId } } : {}) },
        orderBy: { id: "asc" },
        take: limit,
        select: { id: true, consentId: true },
      });
      return rows.map((r) => ({ id: r.id, consentId: r.consentId! }));
    },
  };
}

export type LinksRepo = ReturnType<typeof createLinksRepo>;
