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

/**
 * The statements of one transaction (Db.transaction), on its own connection: named prepared
 * statements as with Sql, read as Sql reads them. A Prisma interactive transaction costs each
 * statement its query compilation and an engine round trip (about 0.3 ms more than this on
 * Postgres here); the consent transaction that ends every linking journey runs nine.
 */
export type TxSql = Sql;

/** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
export type Transaction = <T>(fn: (tx: TxSql) => Promise<T>) => Promise<T>;

const TIMESTAMP = 1114; // timestamp without time zone
const utc = (text: string) => new Date(`${text.replace(" ", "T")}Z`);
const param = (v: SqlValue) => (v instanceof Date ? v.toISOString() : v);

// Not pg's default, which reads a timestamp without time zone in the process's local zone.
const types = { getTypeParser: (oid: number, format?: "text" | "binary") => (oid === TIMESTAMP ? utc : pg.types.getTypeParser(oid, format)) } as pg.CustomTypesConfig;
const parsers = { [TIMESTAMP]: utc };

/** Statements on `client`: the pool, or one connection taken from it for a transaction. */
export function postgresSql(client: pg.Pool | pg.PoolClient): Sql {
  return async <Row>(statement: Statement, values: readonly SqlValue[]) => {
    const result = await client.query({ name: statement.name, text: statement.text, values: values.map(param), types });
    return result.rows as Row[];
  };
}

export function postgresTransaction(pool: pg.Pool): Transaction {
  return async (fn) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A connection's errors come to it, not to the pool, while it is taken: without a listener, a
    // server that dies mid-transaction would end the process. The statement then fails as well.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await fn(postgresSql(client));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      // A connection that cannot even roll back is dropped, not returned to the pool mid-transaction.
      await client.query("ROLLBACK").catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  };
}

/**
 * A failed statement's error without the values bound to it: PGlite's carries them (`params`),
 * and an error may be logged, while a bound value may be a secret or a customer's identifier.
 */
function withoutValues(err: unknown): never {
  if (err && typeof err === "object") for (const key of ["params", "queryOptions"]) delete (err as Record<string, unknown>)[key];
  throw err;
}

/** Statements on the embedded database, or on one of its transactions. */
export function pgliteSql(db: Pick<PGlite, "query">): Sql {
  return async <Row>(statement: Statement, values: readonly SqlValue[]) => (await db.query<Row>(statement.text, values.map(param), { parsers }).catch(withoutValues)).rows;
}

export function pgliteTransaction(pglite: PGlite): Transaction {
  return (fn) => pglite.transaction((tx) => fn(pgliteSql(tx)));
}
