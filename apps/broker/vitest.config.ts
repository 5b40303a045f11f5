import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// The broker's tests log to one directory per run, checked for secrets at the end (test/support/suite-log.ts).
export default mergeConfig(shared, defineConfig({ test: { globalSetup: ["test/support/suite-log-global.ts"] } }));
