import type { Db } from "@link-broker/db";
import type { Config } from "../config.ts";

/** What every command gets: the parsed config, a database, and where its output goes. */
export interface CliContext {
  config: Config;
  db: Db;
  out: (line: string) => void;
}
type CliCommand = (ctx: CliContext, args: string[]) => Promise<void>;
/** A group of commands (`<group>-commands.ts`), by name. */
export type CliGroup = Record<
  string,
  {
    help: string;
    run: CliCommand;
    /** For these args, the command needs neither configuration nor database (e.g. verifying an export file). */
    withoutDb?: (args: string[]) => ((out: (line: string) => void) => Promise<void>) | undefined;
  }
>;
