// allowedMatches glob matching (convex/model/glob.ts): time per match for a
// typical pattern and for the adversarial one from issue 13 (`*a` × 63 + `*b`
// against 200 `a`s), which took seconds with the old backtracking RegExp.
//
//   npx tsx bench/globs.ts
import { matchGlob } from "../convex/model/glob";
import { fmt, formatTable, isMain, writeResult, type BenchResult } from "./lib/report";

function perMatchMicros(glob: string, name: string, iterations: number): { us: number; steps: number } {
  let steps = 0;
  for (let i = 0; i < Math.min(1000, iterations); i++) matchGlob(glob, name); // warm-up
  const t = performance.now();
  for (let i = 0; i < iterations; i++) steps = matchGlob(glob, name).steps;
  return { us: ((performance.now() - t) * 1000) / iterations, steps };
}

export async function runGlobBench(): Promise<BenchResult> {
  const cases = [
    { case: "typical (Signal/* vs Signal/temp-1)", glob: "Signal/*", name: "Signal/temp-1", n: 200_000 },
    { case: "adversarial (*a×63*b vs a×200)", glob: "*a".repeat(63) + "*b", name: "a".repeat(200), n: 20_000 },
    { case: "adversarial (**a×42*b vs a×200)", glob: "**a".repeat(42) + "*b", name: "a".repeat(200), n: 20_000 },
  ];
  const data = cases.map((c) => ({ ...c, ...perMatchMicros(c.glob, c.name, c.n) }));
  return {
    name: "globs",
    rows: data.map((d) => ({
      benchmark: "allowedMatches glob",
      case: d.case,
      figure: `${d.us.toFixed(2)} µs/match`,
      notes: `${fmt.n(d.steps)} steps`,
    })),
    data: data.map(({ case: c, us, steps }) => ({ case: c, microsPerMatch: us, steps })),
  };
}

if (isMain(import.meta.url)) {
  const r = await runGlobBench();
  console.log(formatTable(r.rows));
  console.error(`wrote ${writeResult(r)}`);
}
