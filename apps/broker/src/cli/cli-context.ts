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
export type CliGroup = Record<string, { help: string; run: CliCommand }>;
