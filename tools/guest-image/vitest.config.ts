import { defineConfig } from "vitest/config";

// Tests sit beside the code; .cache holds unpacked Debian packages that need no crawling.
export default defineConfig({
  test: { include: ["src/**/*.test.ts"] },
});
