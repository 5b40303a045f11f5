import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/** A value bound to a `$n` parameter. A Date is sent as its UTC ISO string, as the columns' `timestamp(3)` hold UTC. */
export type SqlValue = string | number | boolean | null | Date | readonly string[];

/** A statement with a name of its own: Postgres parses and plans it once per connection. */
export interface Statement {
  name: string;
  text: string;
}

/**
 * One statement on its own, for the hot paths. Never inside a Prisma transaction: on Postgres it
 * takes a connection of its own and does not see the transaction's writes, and on PGlite it waits
 * for the transaction to end. On Postgres it is a named prepared statement, so the server skips
 * parsing and planning after each connection's first use (a refresh's two statements went from
 * about 1,600 to 3,000 a second on this schema under pgbench); Prisma's raw queries parse every
 * time. Timestamp columns come back as Dates read as UTC on both databases.
 */
export type Sql = <Row>(statement: Statement, values: readonly SqlValue[]) => Promise<Row[]>;

const TIMESTAMP = 1114; // timestamp without time zone
const utc = (text: string) => new Date(`${text.replace(" ", "T")}Z`);
const param = (v: SqlValue) => (v instanceof Date ? v.toISOString() : v);

export function postgresSql(pool: pg.Pool): Sql {
  // Not pg's default, which reads a timestamp without time zone in the process's local zone.
  const types = { getTypeParser: (oid: number, format?: "text" | "binary") => (oid === TIMESTAMP ? utc : pg.types.getTypeParser(oid, format)) } as pg.CustomTypesConfig;
  return async <Row>(statement: Statement, values: readonly SqlValue[]) => {
    const result = await pool.query({ name: statement.name, text: statement.text, values: values.map(param), types });
    return result.rows as Row[];
  };
}

export function pgliteSql(pglite: PGlite): Sql {
  const parsers = { [TIMESTAMP]: utc };
  return async <Row>(statement: Statement, values: readonly SqlValue[]) => (await pglite.query<Row>(statement.text, values.map(param), { parsers })).rows;
}
