import { migrate } from "@link-broker/db";
import type { CliGroup } from "./cli-command.ts";

/** `link-broker migrate`: the only command that changes the schema. */
export const migrateCommand: CliGroup = {
  summary: "apply pending database migrations",
  commands: {
    "": {
      summary: "apply pending database migrations (the database of DATABASE_URL, else the embedded one under .data/)",
      access: "migrate",
      run: async ({ db, out }) => {
        const { applied } = await migrate(db);
        out(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      },
    },
  },
};
