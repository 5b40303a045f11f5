// How the Dockerfile's runtime stage starts the broker, so the deployed benchmark starts it the
// same way: the stage's ENV (what is not the broker's own configuration: the allocator's and the
// like) and the node options its CMD puts before dist/main.js.
import { readFileSync } from "node:fs";

/** Set by the benchmark itself (NODE_ENV=production would refuse its http:// loopback URLs). */
const CONFIGURED_BY_BENCH = new Set(["NODE_ENV", "HOST", "PORT"]);

export function dockerfileRuntime(path: string): { env: Record<string, string>; nodeArgs: string[] } {
  const lines = readFileSync(path, "utf8").replace(/\\\n/g, " ").split("\n");
  const from = lines.findIndex((l) => /^FROM\s+\S+\s+AS\s+runtime\b/i.test(l));
  if (from < 0) throw new Error(`${path}: no runtime stage`);
  const end = lines.findIndex((l, i) => i > from && /^FROM\s/i.test(l));
  const stage = lines.slice(from + 1, end < 0 ? undefined : end);
  const env: Record<string, string> = {};
  for (const l of stage.filter((l) => /^ENV\s/i.test(l))) {
    for (const [, k, v] of l.slice(3).matchAll(/(\w+)=(\S+)/g)) if (!CONFIGURED_BY_BENCH.has(k!)) env[k!] = v!;
  }
  const cmd = stage.findLast((l) => /^CMD\s/i.test(l));
  const argv = cmd ? (JSON.parse(cmd.slice(3).trim()) as string[]) : [];
  const main = argv.indexOf("dist/main.js");
  if (argv[0] !== "node" || main < 0) throw new Error(`${path}: the runtime stage's CMD is not ["node", ..., "dist/main.js"]`);
  return { env, nodeArgs: argv.slice(1, main) };
}
