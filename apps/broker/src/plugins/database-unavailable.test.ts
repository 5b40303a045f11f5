import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "./database-unavailable.ts";

// Shapes seen from Prisma 7 with @prisma/adapter-pg and node-postgres when the server dies,
// refuses connections, or a statement or pool wait times out.
describe("isDatabaseUnavailable", () => {
  it("recognises a lost or refused connection and timeouts", () => {
    expect(isDatabaseUnavailable(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "P1001" }))).toBe(true);
    expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { kind: "DatabaseNotReachable", host: "127.0.0.1" } } } })).toBe(true);
    expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { kind: "postgres", code: "57014", originalCode: "57014" } } } })).toBe(true);
    expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { kind: "postgres", code: "57P01" } } } })).toBe(true);
    expect(isDatabaseUnavailable(new Error("timeout exceeded when trying to connect"))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("connect"), { code: "ECONNREFUSED" }))).toBe(true);
  });

  it("leaves bugs and data errors alone (they stay 500s, or the caller's 4xx)", () => {
    expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined"))).toBe(false);
    expect(isDatabaseUnavailable({ code: "P2002", meta: { target: ["id"] } })).toBe(false); // unique violation
    expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { kind: "postgres", code: "23505" } } } })).toBe(false);
    expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { kind: "TransactionWriteConflict" } } } })).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
