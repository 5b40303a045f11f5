// docs/errors.md lists every error code the broker and the ledger can answer: the codes are read
// from the source, so a new code without a catalogue entry fails here.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..", "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "generated" ? [] : sources(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Codes as the source writes them: error constructors, page errors, ledger codes and check reasons. */
function codesInSource(): Set<string> {
  const text = [...sources(join(root, "apps", "broker", "src")), ...sources(join(root, "packages", "consent-ledger", "src"))].map((f) => readFileSync(f, "utf8")).join("\n");
  const codes = new Set<string>();
  const patterns = [
    /new (?:OAuthError|BrokerError|LedgerError)\(\s*"([a-z_]+)"/g,
    /linkError\(\s*"([a-z_]+)"/g,
    /new LinkPageError\(\s*"([a-z_]+)"/g,
    /(?:Unauthorized|BadRequest|Forbidden|NotFound|Conflict)Error\([^)]*?,\s*"([a-z_]+)"\)/g,
    /super\(\s*"([a-z_]+)"/g,
    /code = "([a-z_]+)"/g,
    /status === \d+ \? "([a-z_]+)"/g,
  ];
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) codes.add(m[1]!);
  const union = /export type (?:LedgerErrorCode|CheckReason)\s*=([^;]+);/g;
  for (const m of text.matchAll(union)) for (const lit of m[1]!.matchAll(/"([a-z_]+)"/g)) codes.add(lit[1]!);
  return codes;
}

describe("docs/errors.md", () => {
  it("lists every error code and ledger reason the source can answer", () => {
    const catalogue = readFileSync(join(root, "docs", "errors.md"), "utf8");
    const listed = new Set([...catalogue.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!));
    const codes = codesInSource();
    // The scan must see the kinds of codes it is there for, or it proves nothing.
    for (const known of ["invalid_grant", "rate_limited", "wrong_step", "scope_not_granted", "unknown_consent", "unsupported_media_type"]) expect(codes).toContain(known);
    const missing = [...codes].filter((c) => !listed.has(c)).sort();
    expect(missing, "codes missing from docs/errors.md").toEqual([]);
  });
});
