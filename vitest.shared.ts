// The one vitest configuration every package uses (each package's vitest.config.ts re-exports it).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration files each make their own database; two at a time suits a 2-core machine.
    maxWorkers: 2,
    passWithNoTests: false,
  },
});
