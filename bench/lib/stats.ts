// Small statistics helpers shared by the benchmarks.

/** Percentile (nearest-rank) of an unsorted sample, in the sample's unit. */
export function percentile(sample: number[], p: number): number {
  if (sample.length === 0) return NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function summarize(samplesMs: number[]) {
  return {
    n: samplesMs.length,
    p50Ms: round(percentile(samplesMs, 50)),
    p99Ms: round(percentile(samplesMs, 99)),
    maxMs: round(samplesMs.length ? Math.max(...samplesMs) : NaN),
  };
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
