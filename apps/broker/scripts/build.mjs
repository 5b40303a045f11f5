#!/usr/bin/env node
// The production build (the Dockerfile runs it; test/build.test.ts in apps/broker too):
//   1. bundles the broker and its CLI with the workspace packages into apps/broker/dist/ (esbuild;
//      npm dependencies stay external), so plain `node` runs them: no tsx, no TypeScript;
//   2. copies prisma/ (schema and migrations) beside the bundles, where the migrator looks first;
//   3. with an output folder, `pnpm deploy --prod` puts the broker package there with its
//      production dependencies only, flat (hoisted), so the bundles resolve every external.
// Usage: node apps/broker/scripts/build.mjs [OUT_DIR]
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const broker = join(root, "apps", "broker");
const dist = join(broker, "dist");
const out = process.argv[2] ? resolve(process.argv[2]) : undefined;

/** npm packages stay external (installed by `pnpm deploy --prod`); workspace sources are bundled. */
const externalNpm = {
  name: "external-npm",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@link-broker/") || args.path.startsWith("node:") ? undefined : { path: args.path, external: true }));
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
console.log(`built ${dist}`);

if (out) {
  rmSync(out, { recursive: true, force: true });
  execFileSync("pnpm", ["--filter", "@link-broker/broker", "deploy", "--prod", "--config.node-linker=hoisted", out], { cwd: root, stdio: "inherit" });
  console.log(`deployed to ${out}`);
}
