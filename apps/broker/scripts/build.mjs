#!/usr/bin/env node
// The production build (the Dockerfile runs it; test/build.test.ts in apps/broker too):
//   1. bundles the broker and its CLI with the workspace packages into apps/broker/dist/ (esbuild;
//      npm dependencies stay external, but for TypeBox), so plain `node` runs them: no tsx, no TypeScript;
//   2. copies prisma/ (schema and migrations) beside the bundles, where the migrator looks first,
//      and the files the code reads beside itself at run time (the console's stylesheet, Prisma's
//      query compiler as a .wasm file);
//   3. with an output folder, `pnpm deploy --prod` puts the broker package there with its
//      production dependencies only, flat (hoisted), so the bundles resolve every external.
// Usage: node apps/broker/scripts/build.mjs [OUT_DIR]
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const broker = join(root, "apps", "broker");
const dist = join(broker, "dist");
const out = process.argv[2] ? resolve(process.argv[2]) : undefined;

/**
 * Bundled although they come from npm: TypeBox, whose schema builders the routes and the
 * configuration call at start. Loaded from node_modules it reads about 700 module files, and
 * the broker keeps their source and module records for as long as it runs; bundled, only what
 * is used comes along (measured: 94 against 100 MB of RSS 3 s after ready, 85 against 90 MB
 * settled, start to ready about 0.2 s sooner). No external package imports it at run time.
 */
const BUNDLED_NPM = /^typebox(\/|$)/;

/** npm packages stay external (installed by `pnpm deploy --prod`), but for BUNDLED_NPM; workspace sources are bundled. */
const externalNpm = {
  name: "external-npm",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@link-broker/") || args.path.startsWith("node:") || BUNDLED_NPM.test(args.path) ? undefined : { path: args.path, external: true },
    );
  },
};

rmSync(dist, { recursive: true, force: true });
await build({
  absWorkingDir: broker,
  entryPoints: { main: "src/main.ts", cli: "src/cli/cli.ts" },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  sourcemap: true,
  logLevel: "warning",
  plugins: [externalNpm],
});
cpSync(join(root, "prisma", "schema.prisma"), join(dist, "prisma", "schema.prisma"));
cpSync(join(root, "prisma", "migrations"), join(dist, "prisma", "migrations"), { recursive: true });
// console-routes.ts reads it with `new URL("./console.css", import.meta.url)`: beside main.js once bundled.
cpSync(join(broker, "src", "console", "console.css"), join(dist, "console.css"));
// The generated client compiles `new URL("./<name>.wasm", import.meta.url)` (packages/db/scripts/generate.ts).
const generatedInternal = join(root, "packages", "db", "src", "generated", "internal");
const wasmFiles = readdirSync(generatedInternal).filter((f) => f.endsWith(".wasm"));
if (wasmFiles.length === 0) throw new Error(`no query compiler .wasm in ${generatedInternal}: run \`pnpm --filter @link-broker/db generate\``);
for (const f of wasmFiles) cpSync(join(generatedInternal, f), join(dist, f));
console.log(`built ${dist}`);

if (out) {
  rmSync(out, { recursive: true, force: true });
  execFileSync("pnpm", ["--filter", "@link-broker/broker", "deploy", "--prod", "--config.node-linker=hoisted", out], { cwd: root, stdio: "inherit" });
  console.log(`deployed to ${out}`);
}
