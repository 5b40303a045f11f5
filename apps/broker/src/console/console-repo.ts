// The console's read model: search over the ledger's `consent` projection and the counts behind
// the overview charts, aggregated in SQL (never by loading every row).
import type { Consent, Db, Prisma } from "@link-broker/db";

export interface ConsentSearch {
  clientId?: string;
  subject?: string;
  psid?: string;
  status?: "active" | "withdrawn" | "expired";
  scope?: string;
  purpose?: string;
  /** Granted at or after. */
  from?: Date;
  /** Granted before. */
  to?: Date;
}

export interface DailyCount {
  day: string; // YYYY-MM-DD (UTC)
  clientId: string;
  action: string;
  count: number;
}

function whereOf(s: ConsentSearch, now: Date): Prisma.ConsentWhereInput {
  const status: Prisma.ConsentWhereInput =
    s.status === "active"
      ? { status: "active", expiresAt: { gt: now } }
      : s.status === "expired"
        ? { OR: [{ status: "expired" }, { status: "active", expiresAt: { lte: now } }] }
        : s.status === "withdrawn"
          ? { status: "withdrawn" }
          : {};
  return {
    ...(s.clientId !== undefined ? { clientId: s.clientId } : {}),
    ...(s.subject !== undefined ? { subject: s.subject } : {}),
    ...(s.psid !== undefined ? { psid: s.psid } : {}),
    ...(s.scope !== undefined ? { scopes: { has: s.scope } } : {}),
    ...(s.purpose !== undefined ? { purposes: { has: s.purpose } } : {}),
    ...(s.from || s.to ? { grantedAt: { ...(s.from ? { gte: s.from } : {}), ...(s.to ? { lt: s.to } : {}) } } : {}),
    ...status,
  };
}

const ORDER: Prisma.ConsentOrderByWithRelationInput[] = [{ grantedAt: "desc" }, { id: "asc" }];

export function createConsoleRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    /** One page of consents, newest first; `hasMore` says whether another page follows. */
    async search(s: ConsentSearch, now: Date, page: { offset: number; limit: number }): Promise<{ items: Consent[]; hasMore: boolean }> {
      const rows = await prisma.consent.findMany({ where: whereOf(s, now), orderBy: ORDER, skip: page.offset, take: page.limit + 1 });
      return { items: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
    },

    /** Every consent of the search, in batches (streamed exports). */
    async *searchAll(s: ConsentSearch, now: Date, batch = 500): AsyncGenerator<Consent[]> {
      let cursor: string | undefined;
      for (;;) {
        const rows = await prisma.consent.findMany({ where: whereOf(s, now), orderBy: ORDER, take: batch, ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}) });
        if (rows.length) yield rows;
        if (rows.length < batch) return;
        cursor = rows[rows.length - 1]!.id;
      }
    },

    /** Ledger entries per UTC day, bank and action since `since` (of one bank when `clientId` is given). */
    async dailyEntries(since: Date, clientId?: string): Promise<DailyCount[]> {
      const rows = await prisma.$queryRaw<{ day: string; clientId: string; action: string; count: bigint }[]>`
        SELECT to_char(date_trunc('day', "recordedAt"), 'YYYY-MM-DD') AS day, "clientId", action::text AS action, count(*) AS count
        FROM ledger_entry WHERE "recordedAt" >= ${since} AND (${clientId ?? null}::text IS NULL OR "clientId" = ${clientId ?? null})
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
      return rows.map((r) => ({ day: r.day, clientId: r.clientId, action: r.action, count: Number(r.count) }));
    },

    /** Link attempts started since `since`, by bank and final state (of one bank when `clientId` is given). */
    async attemptOutcomes(since: Date, clientId?: string): Promise<{ clientId: string; state: string; count: number }[]> {
      const rows = await prisma.$queryRaw<{ clientId: string; state: string; count: bigint }[]>`
        SELECT "clientId", state::text AS state, count(*) AS count FROM link_attempt
        WHERE "createdAt" >= ${since} AND (${clientId ?? null}::text IS NULL OR "clientId" = ${clientId ?? null})
        GROUP BY 1, 2 ORDER BY 1, 2`;
      return rows.map((r) => ({ clientId: r.clientId, state: r.state, count: Number(r.count) }));
    },

    /** Active links per bank (the banks page). */
    async activeLinksByClient(): Promise<Map<string, number>> {
      const rows = await prisma.link.groupBy({ by: ["clientId"], where: { status: "active" }, _count: { _all: true } });
      return new Map(rows.map((r) => [r.clientId, r._count._all]));
    },
  };
}
export type ConsoleRepo = ReturnType<typeof createConsoleRepo>;
