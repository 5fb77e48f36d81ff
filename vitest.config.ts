import { defineConfig } from "vitest/config";

// Two cores here and in CI: files run in parallel forks, each test file
// starts (and stops) whatever servers it needs on free loopback ports.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/stress/**", "node_modules/**"],
    // Finds (or extracts, once) the Chromium the browser tests use, and says which.
    globalSetup: ["test/browser/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    server: { deps: { inline: ["convex-test"] } },
  },
});
