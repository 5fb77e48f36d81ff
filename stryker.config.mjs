// Mutation testing of the security core (`npm run test:mutation`; not in CI: about 45 minutes per 600 mutants on 2 shared cores).
// Mutates the files that decide who may do what and runs only the fast tests against them
// (scripts/mutation/vitest.fast.config.ts). One file while iterating:
//   npm run test:mutation -- --mutate shared/scopes.ts
// Survivors we keep, each with why it is harmless: docs/mutation-survivors.md.
// The property tests run once per mutant here: fewer runs (same fixed seed) keep each run short.
process.env.PROPERTY_RUNS ??= "200";

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "scripts/mutation/vitest.fast.config.ts" },
  plugins: ["@stryker-mutator/vitest-runner"],
  coverageAnalysis: "perTest",
  concurrency: 1,
  mutate: [
    "shared/scopes.ts",
    "shared/permissions.ts",
    "shared/glob.ts",
    "shared/tokens.ts",
    "convex/model/principal.ts",
    "convex/model/authorize.ts",
    "convex/model/liveness.ts",
    "convex/model/keys.ts",
    "convex/model/keyTrust.ts",
    "convex/model/http/verify.ts",
    "convex/model/agentSessions.ts",
    "convex/model/agentRefresh.ts",
    "convex/model/webSessions.ts",
    "convex/model/oauthServer/grants.ts",
    "convex/model/oauthServer/token.ts",
  ],
  ignoreStatic: true,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  // Reuses earlier results for unchanged code and tests (reports/stryker-incremental.json).
  incremental: true,
  incrementalFile: "reports/stryker-incremental.json",
  timeoutMS: 20000,
  thresholds: { high: 90, low: 80, break: null },
};
