// The module rules of ARCHITECTURE.md, checked by `pnpm test` (`pnpm check:deps`).
// Type-only imports count: a cycle through types is still a cycle for a reader.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycle",
      comment: "No import cycle anywhere in apps/ and packages/: each module can be read without the ones that use it.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "db-is-the-bottom",
      comment: "packages/db owns the database and imports nothing of the project above it.",
      severity: "error",
      from: { path: "^packages/db/" },
      to: { path: "^(apps|packages/(?!db/))" },
    },
    {
      name: "ledger-not-apps",
      comment: "The consent ledger package is usable by any service: it imports nothing from apps/.",
      severity: "error",
      from: { path: "^packages/consent-ledger/" },
      to: { path: "^apps/" },
    },
    {
      name: "sandbox-http-only",
      comment:
        "The sandbox plays the bank and Messenger over HTTP only: it imports nothing from the broker, the ledger or the db. " +
        "Its tests share one helper of the broker's tests, the free-port picker (no broker code).",
      severity: "error",
      from: { path: "^apps/sandbox/" },
      to: { path: "^(apps/broker|packages/consent-ledger|packages/db)/", pathNot: "^apps/broker/test/support/ports\\.ts$" },
    },
    {
      name: "crypto-imports-no-domain",
      comment: "crypto/ is primitives (sealing, hashing, constant-time compare): it imports nothing else of the broker.",
      severity: "error",
      from: { path: "^apps/broker/src/crypto/" },
      to: { path: "^apps/broker/src/", pathNot: "^apps/broker/src/crypto/" },
    },
    {
      name: "prisma-only-in-packages-db",
      comment: "Only packages/db uses Prisma's packages and its generated client; everything else goes through @link-broker/db.",
      severity: "error",
      from: { path: "^(apps|packages/(?!db/))" },
      to: { path: "(^|/)node_modules/(@prisma/|prisma/|pglite-prisma-adapter/)|^packages/db/src/generated/" },
    },
    {
      name: "prisma-only-in-repos",
      comment:
        "Only *-repo.ts files and the ledger's store touch Prisma: other files import the db package for types only " +
        "(the boot files for createDb, migrate and migrationStatus).",
      severity: "error",
      from: {
        path: "^(apps/broker/src|packages/consent-ledger/src)/",
        pathNot: ["-repo\\.ts$", "^packages/consent-ledger/src/ledger-store\\.ts$", "^apps/broker/src/main\\.ts$", "^apps/broker/src/cli/cli\\.ts$", "^apps/broker/src/ops/ops-routes\\.ts$", "\\.test\\.ts$"],
      },
      to: { path: "^packages/db/src/", dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|\\.data|dist|coverage)/|^packages/db/src/generated/" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
