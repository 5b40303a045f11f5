/**
 * Whether an error means the database is away or saturated (connection refused or lost, server
 * shutting down, pool or statement timeout) rather than a bug: such requests answer 503 with
 * Retry-After, and the broker recovers by itself once the database answers again.
 */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2028"]);
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "SocketTimeout", "ConnectionClosed", "TooManyConnections"]);
const NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);
// SQLSTATE classes 08 (connection), 53 (insufficient resources), 57P (shutdown); 57014 is a
// statement cancelled by statement_timeout.
const PG_CODE = /^(08...|53...|57P0.|57014)$/;
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Can't reach database server|Connection ended unexpectedly|terminating connection/i;

type Inspectable = { code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown }; originalCode?: unknown };

export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift() as Inspectable | undefined;
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const code = typeof e.code === "string" ? e.code : typeof e.originalCode === "string" ? e.originalCode : undefined;
    if (code && (PRISMA_CODES.has(code) || NODE_CODES.has(code) || PG_CODE.test(code))) return true;
    if (typeof e.kind === "string" && ADAPTER_KINDS.has(e.kind)) return true;
    if (typeof e.message === "string" && MESSAGES.test(e.message)) return true;
    queue.push(e.cause, e.meta?.driverAdapterError);
  }
  return false;
}
