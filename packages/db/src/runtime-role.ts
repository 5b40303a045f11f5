// prisma/runtime-role.sql with its psql variable filled in, for code (tests, tooling) that applies
// it without psql.
import { readFileSync } from "node:fs";
import path from "node:path";
import { PRISMA_DIR } from "./migrate.ts";

const RUNTIME_ROLE_SQL = path.join(PRISMA_DIR, "runtime-role.sql");

export function runtimeRoleSql(role: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error("runtime role must be a plain lowercase identifier");
  return readFileSync(RUNTIME_ROLE_SQL, "utf8").replaceAll(':"runtime_role"', `"${role}"`);
}
