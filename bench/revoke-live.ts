// Revoke → a live subscriber sees it. k ConvexClients (one WebSocket each)
// hold a PAT and subscribe to `auth:viewer`; the owner revokes the PAT; we
// time, per subscriber, from sending `revokeApiToken` to that subscriber's
// query failing. p50/p99 over all subscribers of all trials, per k.
//
//   npx tsx bench/revoke-live.ts [--subscribers 1,10,100]
import { performance } from "node:perf_hooks";
import { api } from "../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../test/helpers/backend";
import { fmt, formatTable, isMain, writeResult, type BenchResult, type BenchRow } from "./lib/report";
import { summarize } from "./lib/stats";
import { TokenPool } from "./lib/users";

export interface RevokeLiveOptions {
  subscribers?: number[];
  /** Trials per subscriber count (default: 30 for 1, 10 for 10, 3 for 100). */
  trials?: (k: number) => number;
  timeoutMs?: number;
}

async function trial(b: SpawnedBackend, pool: TokenPool, k: number, timeoutMs: number) {
  const { token, tokenId, owner } = await pool.next();
  const clients = Array.from({ length: k }, () => b.client());
  const seen: Array<number | null> = new Array(k).fill(null);
  let t0 = Infinity;
  let sawValueAfterRevoke = 0;
  try {
    // Subscribe and wait until every subscriber has its first result.
    await Promise.all(
      clients.map(
        (c, i) =>
          new Promise<void>((resolve, reject) => {
            let first = true;
            c.setAuth(async () => token);
            c.onUpdate(
              api.auth.viewer,
              {},
              () => {
                if (first) {
                  first = false;
                  resolve();
                } else if (performance.now() >= t0) sawValueAfterRevoke++;
              },
              (err) => {
                if (first) reject(err);
                else if (seen[i] === null) seen[i] = performance.now() - t0;
              },
            );
          }),
      ),
    );
    t0 = performance.now();
    const revoke = owner.mutation(api.auth.revokeApiToken, { tokenId });
    await revoke;
    const ackMs = performance.now() - t0;
    const deadline = Date.now() + timeoutMs;
    while (seen.some((s) => s === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    return { latencies: seen.filter((s): s is number => s !== null), missed: seen.filter((s) => s === null).length, ackMs, sawValueAfterRevoke };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

export async function runRevokeLiveBench(options: RevokeLiveOptions = {}): Promise<BenchResult> {
  const levels = options.subscribers ?? [1, 10, 100];
  const trialsFor = options.trials ?? ((k: number) => (k === 1 ? 30 : k <= 10 ? 10 : 3));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const b = await spawnBackend();
  const data: Array<{ subscribers: number; trials: number; n: number; p50Ms: number; p99Ms: number; maxMs: number; missed: number; ackP50Ms: number; valuesAfterRevoke: number }> = [];
  try {
    const pool = new TokenPool(b.url, "revoke-bench");
    for (const k of levels) {
      console.error(`[revoke-live] ${k} subscriber(s)…`);
      const all: number[] = [];
      const acks: number[] = [];
      let missed = 0;
      let values = 0;
      const n = trialsFor(k);
      for (let i = 0; i < n; i++) {
        const r = await trial(b, pool, k, timeoutMs);
        all.push(...r.latencies);
        acks.push(r.ackMs);
        missed += r.missed;
        values += r.sawValueAfterRevoke;
      }
      const s = summarize(all);
      data.push({ subscribers: k, trials: n, n: s.n, p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs, missed, ackP50Ms: summarize(acks).p50Ms, valuesAfterRevoke: values });
    }
  } finally {
    await b.stop();
  }
  const rows: BenchRow[] = data.map((d) => ({
    benchmark: "Revoke → live subscriber sees it",
    case: `${d.subscribers} subscriber${d.subscribers === 1 ? "" : "s"} (${d.trials} revokes)`,
    figure: `p50 ${fmt.ms(d.p50Ms)}, p99 ${fmt.ms(d.p99Ms)}`,
    notes: `${d.n} observations${d.missed ? `, ${d.missed} MISSED within ${timeoutMs} ms` : ", none missed"}; revoke acknowledged p50 ${fmt.ms(d.ackP50Ms)}`,
  }));
  return { name: "revoke-live", rows, data, params: { levels, timeoutMs } };
}

if (isMain(import.meta.url)) {
  const i = process.argv.indexOf("--subscribers");
  const result = await runRevokeLiveBench({ subscribers: i > 0 ? process.argv[i + 1]!.split(",").map(Number) : undefined });
  console.log(formatTable(result.rows));
  console.error(`wrote ${writeResult(result)}`);
  process.exit(0);
}
