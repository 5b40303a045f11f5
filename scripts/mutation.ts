// Mutation testing of the security-critical code with StrykerJS and its vitest runner:
//   pnpm mutation            every scope below, one after another
//   pnpm mutation oauth-auth one scope
// Slow (each mutant re-runs the integration tests that cover it), so it is a script, not CI.
// One mutant at a time (MUTATION_CONCURRENCY=2 runs two: each database test makes its own
// database, so they do not meet), incremental: a re-run tests only mutants whose code or tests changed
// (reports/mutation/<scope>.incremental.json). Scores: reports/mutation/<scope>.json.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

interface Scope {
  /** The package StrykerJS runs in. */
  cwd: string;
  /** Files to mutate, relative to cwd. */
  mutate: string[];
  /** The test files that guard them, relative to cwd. */
  tests: string[];
  /** StrykerJS mutators left out (e.g. the wording of error messages, where the checks are what counts). */
  excludedMutations?: string[];
}

// Every test file of the consent-ledger package, named one by one so `--without` can leave the
// integration files (test/) out and run the unit tests beside the code first (a glob cannot).
const ledgerTests = [
  "src/canonical-json.test.ts",
  "src/check-cache.test.ts",
  "src/checkpoint-file.test.ts",
  "src/consent-state.test.ts",
  "src/export.test.ts",
  "src/hash-chain.test.ts",
  "src/ledger-audit.test.ts",
  "src/ledger-keys.test.ts",
  "src/policy.test.ts",
  "src/policy.rules.test.ts",
  "src/receipt.test.ts",
  "src/verify-export.test.ts",
  "test/concurrency.test.ts",
  "test/ledger.contract.test.ts",
  "test/ledger-rules.test.ts",
  "test/pairs-migration.test.ts",
  "test/propagation.test.ts",
  "test/runtime-role.test.ts",
  "test/tamper.test.ts",
];

// ledger.test.ts is left out: its checkpoint schedule test depends on timers the sandbox upsets.
const brokerAuthTests = ["test/authorization-checks.test.ts", "test/oauth-code.test.ts", "test/oauth-clients.test.ts"];

// The tests written for the authorization and tenant checks, with real tokens (the attack
// catalogue's cross-tenant tests cover the same checks, at the cost of a whole linking flow each).
const authzTests = ["test/authorization-checks.test.ts", "test/security/authorization-edges.test.ts"];

// Everything that exchanges codes and refresh tokens with real clients and a real ledger.
const tokenTests = ["test/oauth-code.test.ts", "test/refresh-lifetime.test.ts", "test/security/catalogue-codes-tokens.test.ts", "src/oauth/checks/check-pkce.test.ts", "src/oauth/token/access-token.test.ts"];

/**
 * `file:start-end` for the method or function that starts at the line holding `opening`, to its
 * closing line at the same indentation, so a scope follows it when the file around it changes.
 */
function methodLines(cwd: string, file: string, opening: string): string {
  const lines = readFileSync(join(import.meta.dirname, "..", cwd, file), "utf8").split("\n");
  const start = lines.findIndex((l) => l.includes(opening));
  if (start < 0) throw new Error(`${file} has no line with ${opening}`);
  const indent = /^\s*/.exec(lines[start]!)![0];
  const end = lines.findIndex((l, i) => i > start && (l === `${indent}},` || l === `${indent}}`));
  return `${file}:${start + 1}-${end + 1}`;
}

export const SCOPES: Record<string, Scope> = {
  // Who may see or end which token, and whose ledger a caller reads. Introspection and revocation
  // (RFC 7662 / RFC 7009) are one service, introspect-service.ts. The unit tests beside the code
  // run first (`--without` the three integration files); string literals stay mutated (token
  // types, roles, revocation reasons and the JWT test are values the checks compare or record).
  "oauth-auth": {
    cwd: "apps/broker",
    mutate: ["src/oauth/introspect/introspect-service.ts", "src/ledger/ledger-auth.ts", "src/plugins/client-auth.ts"],
    tests: [...brokerAuthTests, "src/oauth/introspect/introspect-service.test.ts", "src/ledger/ledger-auth.test.ts", "src/plugins/client-auth.test.ts"],
  },
  // Only the authorization and tenant checks of oauth-auth, against the tests written for them.
  "authz-checks": {
    cwd: "apps/broker",
    mutate: ["src/ledger/ledger-auth.ts", "src/oauth/introspect/introspect-service.ts:36-64", "src/oauth/introspect/introspect-service.ts:91-91", "src/oauth/introspect/introspect-service.ts:106-119"],
    tests: ["test/authorization-checks.test.ts"],
  },
  // Every authorization and tenant check of the broker, against the tests that guard them.
  "authz-tenant": {
    cwd: "apps/broker",
    mutate: [
      "src/ledger/ledger-auth.ts:29-44",
      "src/oauth/introspect/introspect-service.ts:71-73",
      "src/oauth/introspect/introspect-service.ts:90-91",
      "src/oauth/introspect/introspect-service.ts:108-118",
      "src/plugins/bearer-auth.ts:78-82",
      "src/links/links-routes.ts:70-74",
    ],
    tests: authzTests,
    // The checks, not the wording of their refusals.
    excludedMutations: ["StringLiteral"],
  },
  // What makes a token live (revocation, grant, consent, deleted client) and how the broker's APIs
  // read the Authorization header (Bearer or DPoP with its proof).
  "token-liveness": {
    cwd: "apps/broker",
    mutate: ["src/oauth/introspect/introspect-service.ts:36-66", "src/plugins/bearer-auth.ts:34-52"],
    tests: authzTests,
    excludedMutations: ["StringLiteral"],
  },
  // How a client proves who it is at the token, PAR, introspection and revocation endpoints:
  // every test that authenticates a client, and the edges written for this file.
  "client-authn": {
    cwd: "apps/broker",
    mutate: ["src/oauth/clients/authenticate-client.ts"],
    tests: [
      "src/oauth/clients/authenticate-client.test.ts",
      "test/security/assertion-audience.test.ts",
      "test/security/control-characters.test.ts",
      "test/oauth-clients.test.ts",
      "src/oauth/clients/authenticate-client.edges.test.ts",
    ],
  },
  // How a caller proves who it is: client secrets, assertions, bearer tokens.
  "oauth-clients": {
    cwd: "apps/broker",
    mutate: ["src/oauth/clients/authenticate-client.ts", "src/plugins/bearer-auth.ts"],
    tests: [...brokerAuthTests, "src/oauth/clients/authenticate-client.test.ts"],
  },
  // Codes, refresh tokens, PKCE and access tokens: the grants of the token endpoint.
  "oauth-token": {
    cwd: "apps/broker",
    mutate: ["src/oauth/token/grants/authorization-code.ts", "src/oauth/token/grants/refresh-token.ts", "src/oauth/token/grants/client-credentials.ts", "src/oauth/token/grants/grant-types.ts", "src/oauth/token/access-token.ts", "src/oauth/checks/check-pkce.ts"],
    tests: [...tokenTests, "src/oauth/token/grants/grants.edges.test.ts"],
  },
  // The request checks: content types, the form's limits, scopes, purposes and duration.
  "oauth-checks": {
    cwd: "apps/broker",
    mutate: ["src/oauth/checks/check-form.ts", "src/oauth/checks/check-scope.ts", "src/oauth/checks/check-purposes.ts"],
    tests: ["src/oauth/checks/check-form.test.ts", "src/oauth/checks/check-pkce.test.ts", "src/oauth/checks/checks.edges.test.ts"],
  },
  // DPoP proofs (RFC 9449): binding, replay, nonce, htm/htu, iat window.
  dpop: {
    cwd: "apps/broker",
    mutate: ["src/oauth/dpop/check-dpop.ts"],
    tests: ["test/oauth-code.test.ts", "test/security/authorization-edges.test.ts", "test/security/catalogue-codes-tokens.test.ts", "src/oauth/dpop/check-dpop.edges.test.ts"],
  },
  // Link management: a bank sees and ends only its own links. The unit tests beside the code and
  // test/links-repo.test.ts (one database, no app) kill most mutants in seconds; the end-to-end
  // files follow. String literals stay mutated here: most of them are states ("active",
  // "unlinked"), actors and route paths that the checks compare, not the wording of refusals.
  links: {
    cwd: "apps/broker",
    mutate: ["src/links/links-routes.ts", "src/links/links-service.ts", "src/links/links-repo.ts"],
    tests: ["test/links-webhook.test.ts", "test/unlink-e2e.test.ts", "test/concurrent-approval.test.ts", "src/links/links-service.test.ts", "src/links/links-routes.test.ts", "test/links-repo.test.ts"],
  },
  // The consent step of the linking flow: approve or deny (LinkingService.decide) and what an
  // approval grants (consent-terms.ts).
  "linking-consent": {
    cwd: "apps/broker",
    mutate: [methodLines("apps/broker", "src/linking/linking-service.ts", "async decide("), "src/linking/consent-terms.ts"],
    tests: ["test/linking-flow.test.ts", "test/concurrent-approval.test.ts", "test/security/second-factor-recovery.test.ts", "src/linking/linking-pages.test.ts", "src/linking/consent-terms.test.ts"],
    // The decisions, not the wording of the pages they lead to.
    excludedMutations: ["StringLiteral"],
  },
  // The ledger's tenant filters: a bank's reads see only its own consents.
  "ledger-tenant": {
    cwd: "packages/consent-ledger",
    mutate: ["src/consent-ledger.ts:152-156", "src/consent-ledger.ts:336-338", "src/consent-ledger.ts:357-362", "src/ledger-store.ts:127-140"],
    tests: ["test/ledger.contract.test.ts"],
    excludedMutations: ["StringLiteral"],
  },
  // The rule-bearing methods of consent-ledger.ts alone (tenant checks, state transitions, the
  // check's answer), against every test of the package: the whole of `ledger` re-tests each of its
  // ~530 consent-ledger.ts mutants against database tests (hours); these ~210 take well under one.
  "ledger-rules": {
    cwd: "packages/consent-ledger",
    mutate: [
      // consentOrThrow: the tenant check of every read and write by id
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async function consentOrThrow("),
      // expireOne: which consents the sweeper expires
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async function expireOne("),
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async withdraw("),
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async renew("),
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async reconsent("),
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async check("),
      // find: its tenant filter
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async find("),
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async isActive("),
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "activeUntilOf(consent"),
    ],
    tests: ledgerTests,
    excludedMutations: ["StringLiteral"],
  },
  // The ledger's proof: what `verify` checks (chain links, hashes, signed checkpoints, projections)
  // on the database and on an export file. A mutant that lets a rewritten ledger verify, or names
  // the wrong problem to an auditor, must fail a test.
  "ledger-proof": {
    cwd: "packages/consent-ledger",
    mutate: [
      "src/ledger-audit.ts",
      "src/verify-export.ts",
      // The signature check of checkpoints (and receipts), and the anchoring file.
      "src/ledger-keys.ts",
      "src/checkpoint-file.ts",
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "function verifyWith("),
      methodLines("packages/consent-ledger", "src/consent-ledger.ts", "async verify("),
    ],
    tests: ledgerTests,
  },
  // The rest of the ledger package: grant's input checks, checkpoint writing, receipts, reads and
  // paging, the export's lines, the check cache and the wire records.
  "ledger-rest": {
    cwd: "packages/consent-ledger",
    mutate: [
      ...["function expiryFrom(", "function committed(", "async function lookup(", "function parseLookup(", "async grant(", "async get(", "async checkpoint(", "async receipt(", "async endOf(", "async entriesAfter(", "async expiringBetween("].map((m) =>
        methodLines("packages/consent-ledger", "src/consent-ledger.ts", m),
      ),
      "src/export.ts",
      "src/receipt.ts",
      "src/records.ts",
      "src/check-cache.ts",
    ],
    tests: ledgerTests,
    excludedMutations: ["StringLiteral"],
  },
  // The ledger's rules: grants, transitions, tenant filters, policy and the hash chain.
  ledger: {
    cwd: "packages/consent-ledger",
    mutate: ["src/consent-ledger.ts", "src/policy.ts", "src/consent-state.ts", "src/hash-chain.ts"],
    tests: ledgerTests,
    // The checks (tenant, state, policy, chain), not the wording of their refusals.
    excludedMutations: ["StringLiteral"],
  },
};

const root = resolve(import.meta.dirname, "..");
// `--without <test file>` leaves a test file out, to score the suite as it was before that file.
// Both runs share one incremental file, so the run with the file re-tests only the mutants that
// survived without it (and those its tests cover anew); killed ones keep their result.
const args = process.argv.slice(2);
const without = new Set<string>();
for (let i = args.indexOf("--without"); i >= 0; i = args.indexOf("--without")) {
  without.add(args[i + 1] ?? "");
  args.splice(i, 2);
}
const label = without.size > 0 ? `-without-${[...without].map((t) => t.replace(/^.*\//, "").replace(/\.test\.ts$/, "")).join("-")}` : "";
const asked = args;
const names = asked.length > 0 ? asked : Object.keys(SCOPES);
for (const name of names) {
  const scope = SCOPES[name];
  if (!scope) {
    process.stderr.write(`unknown scope ${name}; scopes: ${Object.keys(SCOPES).join(", ")}\n`);
    process.exit(2);
  }
  const reports = join(root, "reports", "mutation");
  mkdirSync(reports, { recursive: true });
  const config = {
    testRunner: "vitest",
    plugins: ["@stryker-mutator/vitest-runner"],
    vitest: { configFile: "vitest.mutation.config.ts", related: false },
    mutate: scope.mutate,
    ...(scope.excludedMutations ? { mutator: { excludedMutations: scope.excludedMutations } } : {}),
    coverageAnalysis: "perTest",
    concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 1),
    incremental: true,
    incrementalFile: join(reports, `${name}.incremental.json`),
    reporters: ["clear-text", "progress", "json"],
    jsonReporter: { fileName: join(reports, `${name}${label}.json`) },
    clearTextReporter: { allowColor: false, logTests: false, allowEmojis: false },
    timeoutMS: 60_000,
    // <root>/.stryker-tmp-<scope>/sandbox-x: its `../../` (each package's tsconfig extends) is the repository root.
    // One folder per scope, so two scopes can run at once without removing each other's sandboxes.
    tempDirName: join(root, `.stryker-tmp-${name}`),
    // TypeScript 7 has no JavaScript API for StrykerJS's tsconfig rewriting; nothing here needs it.
    tsconfigFile: "no-tsconfig-rewrite.json",
    cleanTempDir: "always",
    ignorePatterns: ["node_modules", ".data", "reports", ".stryker-tmp*"],
  };
  const configPath = join(reports, `${name}${label}.stryker.json`);
  (await import("node:fs")).writeFileSync(configPath, JSON.stringify(config, null, 2));
  process.stdout.write(`\n== mutation: ${name} (${scope.cwd}: ${scope.mutate.join(" ")})\n`);
  const run = spawnSync(process.execPath, [join(root, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js"), "run", configPath], {
    cwd: join(root, scope.cwd),
    stdio: "inherit",
    env: { ...process.env, MUTATION_TESTS: scope.tests.filter((t) => !without.has(t)).join(","), LOG_LEVEL: "silent" },
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
