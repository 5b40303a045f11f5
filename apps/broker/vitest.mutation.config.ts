// The vitest configuration StrykerJS runs (scripts/mutation.ts): the test files that guard the
// code being mutated, named by MUTATION_TESTS, so each mutant runs only what can catch it.
import { defineConfig } from "vitest/config";

const tests = (process.env.MUTATION_TESTS ?? "").split(",").filter(Boolean);

export default defineConfig({
  test: {
    include: tests.length > 0 ? tests : ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    maxWorkers: 1,
    passWithNoTests: false,
  },
});
