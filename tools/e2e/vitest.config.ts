import { defineConfig } from "vitest/config";

// Real processes and real time: generous timeouts, one file at a time.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    // Names and kills any guest a test left running (leftovers.ts).
    globalSetup: ["src/leftovers.ts"],
  },
});
