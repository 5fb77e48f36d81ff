// Result files and the one table `npm run bench` prints.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface BenchRow {
  benchmark: string;
  case: string;
  figure: string;
  notes?: string;
}

export interface BenchResult {
  name: string;
  rows: BenchRow[];
  /** Raw figures, as measured. */
  data: unknown;
  params?: Record<string, unknown>;
}

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

export function machineInfo() {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
  };
}

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(file, JSON.stringify({ ...result, at: new Date().toISOString(), machine: machineInfo() }, null, 2) + "\n");
  return file;
}

/** A Markdown table (also readable in a terminal). */
export function formatTable(rows: BenchRow[]): string {
  const header = ["Benchmark", "Case", "Figure", "Notes"];
  const body = rows.map((r) => [r.benchmark, r.case, r.figure, r.notes ?? ""]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

export const fmt = {
  rps: (x: number) => `${Math.round(x).toLocaleString("en-US")} req/s`,
  ms: (x: number) => (x >= 100 ? `${Math.round(x)} ms` : `${x.toFixed(1)} ms`),
  mb: (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`,
  n: (x: number) => (x >= 1000 && x % 1000 === 0 ? `${x / 1000}k` : String(x)),
};

/** True when this module is the process entry (run with `tsx bench/x.ts`). */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(metaUrl) === resolve(process.argv[1]);
}
