// README's configuration table and `.env.example`, rendered from EnvSchema (config.ts). Run
// `pnpm config:docs` after adding a variable; test/config-docs.test.ts fails while they differ.
import { EnvSchema } from "./config.ts";

interface VariableDoc {
  name: string;
  description: string;
  /** As README shows it (markdown). */
  defaultText: string;
  /** The line `.env.example` offers, commented out. */
  exampleValue: string;
}

export const CONFIG_DOCS_COMMAND = "pnpm config:docs";
export const TABLE_START = "<!-- config-table:start (generated from apps/broker/src/config.ts by `pnpm config:docs`) -->";
export const TABLE_END = "<!-- config-table:end -->";

export function variableDocs(): VariableDoc[] {
  return Object.entries(EnvSchema.properties).map(([name, raw]) => {
    const schema = raw as { description?: string; default?: unknown; docDefault?: string; example?: string };
    if (!schema.description) throw new Error(`${name} has no description in EnvSchema (apps/broker/src/config.ts)`);
    const plain = schema.default === undefined ? undefined : String(schema.default);
    return {
      name,
      description: schema.description,
      defaultText: schema.docDefault ?? (plain === undefined ? "unset" : `\`${plain}\``),
      exampleValue: schema.example ?? plain ?? "",
    };
  });
}

export function renderConfigTable(): string {
  const rows = variableDocs().map((v) => `| \`${v.name}\` | ${v.description.replace(/\|/g, "\\|")} | ${v.defaultText} |`);
  return [TABLE_START, "| variable | meaning | default |", "| --- | --- | --- |", ...rows, TABLE_END].join("\n");
}

export function renderEnvExample(): string {
  const blocks = variableDocs().map((v) => {
    const plainDefault = v.defaultText.replace(/`/g, "");
    return [`# ${v.description.replace(/`/g, "")}`, `# default: ${plainDefault || "unset"}`, `# ${v.name}=${v.exampleValue}`].join("\n");
  });
  return [`# link-broker configuration. Generated from apps/broker/src/config.ts by \`${CONFIG_DOCS_COMMAND}\`; do not edit by hand.`, "# Every variable is optional outside production; uncomment what you set.", "", blocks.join("\n\n"), ""].join("\n");
}

/** README with its table between the markers replaced. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${TABLE_START} … ${TABLE_END} block`);
  return readme.slice(0, start) + renderConfigTable() + readme.slice(end + TABLE_END.length);
}
