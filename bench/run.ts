// `npm run bench`: runs every benchmark, prints one table, and writes
// bench/results/<name>.json for each plus bench/results/summary.json.
//
//   npm run bench                     # everything (~10 minutes on 2 cores)
//   npm run bench -- --only verify,revoke-live
//   npm run bench -- --quick          # smaller counts, for a smoke run
//
// Benchmarks in this folder are of two kinds: modules with an exported
// function returning {name, rows, data} (verify, revoke-live, globs, startup), run
// in this process; and stand-alone scripts (local, authorize, sessions) run
// as child processes, whose bench/results/<name>.json is read back and turned
// into table rows (`rows` if the file has them, else its figures).
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatTable, machineInfo, RESULTS_DIR, writeResult, type BenchResult } from "./lib/report";
import { rowsOf } from "./lib/rows";
import { runGlobBench } from "./globs";
import { runRevokeLiveBench } from "./revoke-live";
import { runStagesBench } from "./stages";
import { runStartupBench } from "./startup";
import { runVerifyBench } from "./verify";

const HERE = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes("--quick");
const onlyIdx = process.argv.indexOf("--only");
const only = onlyIdx > 0 ? new Set(process.argv[onlyIdx + 1]!.split(",")) : null;

type Bench = { name: string; run: () => Promise<BenchResult> };

/** A stand-alone script: spawn it, then read its result file back. */
function script(name: string, title: string, args: string[] = [], env: Record<string, string> = {}): Bench {
  return {
    name,
    run: async () => {
      const file = join(HERE, `${name}.ts`);
      if (!existsSync(file)) return { name, rows: [{ benchmark: title, case: "—", figure: "not available", notes: `bench/${name}.ts is missing` }], data: null };
      const started = Date.now();
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", file, ...args], {
          stdio: ["ignore", "inherit", "inherit"],
          env: { ...process.env, ...env },
        });
        child.once("exit", (c) => resolve(c));
      });
      const out = join(RESULTS_DIR, `${name}.json`);
      // The file's mtime proves this run wrote it.
      const fresh = existsSync(out) && statSync(out).mtimeMs >= started - 1000;
      if (code !== 0 || !fresh) {
        return { name, rows: [{ benchmark: title, case: "—", figure: "FAILED", notes: `exit ${code}${fresh ? "" : ", no fresh result file"}` }], data: null };
      }
      const data = JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>;
      return { name, rows: rowsOf(title, data), data, external: true } as BenchResult;
    },
  };
}

const all: Bench[] = [
  { name: "verify", run: () => runVerifyBench(quick ? { keyCounts: [1000], durationMs: 3000 } : {}) },
  { name: "stages", run: () => runStagesBench(quick ? { requests: 500 } : {}) },
  script("authorize", "Reads/writes per authorize()", quick ? ["--quick"] : []),
  script("activity", "Activity counters: writes per request", quick ? ["--requests", "300", "--minutes", "5"] : []),
  script("sessions", "Agent sessions", quick ? ["--n", "100"] : []),
  script("signin", "Sign-in: unknown account vs wrong password", quick ? ["--n", "5"] : []),
  { name: "revoke-live", run: () => runRevokeLiveBench(quick ? { subscribers: [1, 10], trials: () => 3 } : {}) },
  script("local", "Embedded backend", [], quick ? { BENCH_SIZES: "1000", BENCH_ITER: "50", BENCH_LIVE_ITER: "10" } : {}),
  { name: "globs", run: () => runGlobBench() },
  { name: "startup", run: () => runStartupBench(quick ? { tokens: 500, auditEvents: 5000, emptyRuns: 1 } : {}) },
];

const results: BenchResult[] = [];
const load0 = os.loadavg();
for (const b of all) {
  if (only && !only.has(b.name)) continue;
  console.error(`\n=== ${b.name} ===`);
  const t = Date.now();
  try {
    const r = await b.run();
    if (!(r as { external?: boolean }).external) writeResult(r);
    results.push(r);
  } catch (e) {
    console.error(`[${b.name}] failed: ${(e as Error).stack ?? e}`);
    results.push({ name: b.name, rows: [{ benchmark: b.name, case: "—", figure: "FAILED", notes: String((e as Error).message).split("\n")[0]! }], data: null });
  }
  console.error(`=== ${b.name}: ${Math.round((Date.now() - t) / 1000)} s ===`);
}

const rows = results.flatMap((r) => r.rows);
const m = machineInfo();
console.log(`\nkeyhole benchmarks — ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, load average at start ${load0.map((x) => x.toFixed(2)).join(" ")}\n`);
console.log(formatTable(rows));
writeResult({ name: "summary", rows, data: { loadAverageAtStart: load0, loadAverageAtEnd: os.loadavg(), quick, benchmarks: results.map((r) => r.name) } });
console.error(`\nwrote ${RESULTS_DIR}/*.json`);
process.exit(results.some((r) => r.rows.some((row) => row.figure === "FAILED")) ? 1 : 0);
