import type { Db } from "@link-broker/db";
import type { SealedColumn } from "./sealed-columns.ts";

export interface SealedRow {
  id: string;
  value: string;
}

// Table and column names come only from SEALED_COLUMNS, never from input.
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Reads and re-writes sealed values column by column (master-key check and `keys rewrap`). */
export function createSealedValuesRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    /** One sealed value of the column, or undefined when it holds none. */
    async sample(col: SealedColumn): Promise<SealedRow | undefined> {
      const rows = await prisma.$queryRawUnsafe<SealedRow[]>(
        `SELECT ${ident(col.idColumn)} AS id, ${ident(col.column)} AS value FROM ${ident(col.table)} WHERE ${ident(col.column)} IS NOT NULL LIMIT 1`,
      );
      return rows[0];
    },

    /** Values not sealed under `kid`, in id order after `afterId` (keyset pages, so a run can resume). */
    notSealedUnder(col: SealedColumn, kid: string, afterId: string, limit: number): Promise<SealedRow[]> {
      return prisma.$queryRawUnsafe<SealedRow[]>(
        `SELECT ${ident(col.idColumn)} AS id, ${ident(col.column)} AS value FROM ${ident(col.table)}
         WHERE ${ident(col.column)} IS NOT NULL AND ${ident(col.column)} NOT LIKE $1 AND ${ident(col.idColumn)} > $2
         ORDER BY ${ident(col.idColumn)} LIMIT ${Number(limit)}`,
        `v1.${kid}.%`,
        afterId,
      );
    },

    /** Replaces a value only if it is still the one read (a concurrent write wins). */
    async replace(col: SealedColumn, id: string, old: string, next: string): Promise<boolean> {
      const count = await prisma.$executeRawUnsafe(
        `UPDATE ${ident(col.table)} SET ${ident(col.column)} = $1 WHERE ${ident(col.idColumn)} = $2 AND ${ident(col.column)} = $3`,
        next,
        id,
        old,
      );
      return count === 1;
    },

    /** How many values of the column are sealed under `kid`. */
    async countSealedUnder(col: SealedColumn, kid: string): Promise<number> {
      const [row] = await prisma.$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM ${ident(col.table)} WHERE ${ident(col.column)} LIKE $1`,
        `v1.${kid}.%`,
      );
      return row?.n ?? 0;
    },
  };
}

export type SealedValuesRepo = ReturnType<typeof createSealedValuesRepo>;
