import { BaseSequencer, type TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

// `npm run test:stress`: the reliability and security suite (test/stress/).
// Long-running, loopback only, bounded in time; kept out of `npm test`.
// Files run one at a time (they load the machine), the leak scan last: it
// reads what every other file captured (responses, backend logs, secrets).
class LeakScanLast extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
    const last = (f: TestSpecification) => (f.moduleId.includes("leak-scan") ? 1 : 0);
    return sorted.sort((a, b) => last(a) - last(b));
  }
}

export default defineConfig({
  test: {
    include: ["test/stress/**/*.test.ts"],
    globalSetup: ["test/stress/globalSetup.ts"],
    fileParallelism: false,
    maxWorkers: 1,
    pool: "forks",
    testTimeout: 180_000,
    hookTimeout: 120_000,
    sequence: { sequencer: LeakScanLast },
    server: { deps: { inline: ["convex-test"] } },
  },
});
