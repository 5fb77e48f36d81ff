import { defineConfig } from "vitest/config";

/**
 * The fast tests of the security core, for mutation testing (`npm run test:mutation`):
 * convex-test in-process function tests and pure unit/property tests only — no
 * browser, no spawned backend, no servers. Stryker runs these once per mutant.
 */
export const FAST_TESTS = [
  "test/authorize/access.test.ts",
  "test/authorize/builders.test.ts",
  "test/authorize/domain.test.ts",
  "test/authorize/globs.test.ts",
  "test/authorize/properties.test.ts",
  "test/authorize/rules.test.ts",
  "test/authorize/mutation-pins.test.ts",
  "test/authorize/glob-words.test.ts",
  "test/authorize/principal-pins.test.ts",
  "test/authorize/scope-pins.test.ts",
  "test/governance/policy.test.ts",
  "test/sessions/agentSessions.test.ts",
  "test/sessions/refreshSession.test.ts",
  "test/sessions/liveness.test.ts",
  "test/sessions/webSessions.test.ts",
  "test/sessions/mutation-pins.test.ts",
  "test/sessions/liveness-pins.test.ts",
  "test/sessions/websession-pins.test.ts",
  // agent-pins and refresh-pins also reload the app's modules inside a test (vi.resetModules),
  // so that mutants of module-level constants are live there (see docs/testing.md).
  "test/sessions/agent-pins.test.ts",
  "test/sessions/refresh-pins.test.ts",
  "test/tokens/jwt.test.ts",
  "test/tokens/keytrust.test.ts",
  "test/tokens/lifecycle.test.ts",
  "test/tokens/verify-pins.test.ts",
  "test/tokens/keytrust-pins.test.ts",
  "test/tokens/claim-pins.test.ts",
  "test/signin/check.test.ts",
  "test/shared/parity.test.ts",
  "test/oauthServer/functions.test.ts",
  "test/oauthServer/unit.test.ts",
  "test/oauthServer/grant-pins.test.ts",
  "test/oauthServer/code-pins.test.ts",
  "test/oauthServer/refresh-pins.test.ts",
];

export default defineConfig({
  test: {
    include: FAST_TESTS,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // One thread, modules kept between files: about 4× faster than isolated forks, and
    // these tests share no state but module caches (each builds its own convex-test world).
    pool: "threads",
    isolate: false,
    maxWorkers: 1,
    server: { deps: { inline: ["convex-test"] } },
  },
});
