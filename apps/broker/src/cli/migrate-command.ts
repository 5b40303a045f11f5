import type { CliGroup } from "./cli-command.ts";

/** `link-broker migrate`: the only command that changes the schema. */
export const migrateCommand: CliGroup = {
  summary: "apply pending database migrations",
  commands: {
    "": {
      summary: "apply pending database migrations (the database of DATABASE_URL, else the embedded one under .data/)",
      access: "migrate",
      run: async ({ migrate, out }) => {
        const { applied } = await migrate();
        out(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      },
    },
  },
};
