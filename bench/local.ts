/**
 * Embedded backend latency (npm run bench:local).
 *
 * For 1k and 10k documents (half in the queried table, half in another):
 * - round trip of an indexed query and of a mutation, over HTTP
 *   (ConvexHttpClient) and over the sync socket (ConvexClient);
 * - mutation throughput over HTTP at concurrency 16 (group commit: the
 *   commits made while one fsync runs share the next);
 * - write → live-update latency with 1 and 100 subscribers (each its own
 *   ConvexClient / WebSocket), measured from sending the mutation to the
 *   moment the last subscriber sees the new result;
 * - for reference, the indexed query over HTTP with convex-test's own full
 *   scan (KEYHOLE_BENCH_UPSTREAM_SCAN=1, what the hooks replace).
 *
 * Prints a table and writes bench/results/local.json.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { anyApi } from "convex/server";
import { spawnBackend, type SpawnedBackend } from "../test/helpers/backend.js";

const api = anyApi;
const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, "..", "test", "local", "fixture", "convex");
const SIZES = (process.env.BENCH_SIZES ?? "1000,10000").split(",").map(Number);
const ITER = Number(process.env.BENCH_ITER ?? 200);
const LIVE_ITER = Number(process.env.BENCH_LIVE_ITER ?? 30);

type Stats = { n: number; p50: number; p95: number; mean: number; max: number };
function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(q(0.5)), p95: r(q(0.95)), mean: r(s.reduce((a, b) => a + b, 0) / s.length), max: r(s.at(-1)!) };
}

async function time(iter: number, fn: (i: number) => Promise<unknown>): Promise<Stats> {
  for (let i = 0; i < Math.min(10, iter); i++) await fn(-1 - i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < iter; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return stats(out);
}

/** Mutations a second with `concurrency` HTTP clients each sending one after another. */
async function throughput(b: SpawnedBackend, concurrency: number, total: number): Promise<{ perSecond: number; n: number }> {
  const clients = Array.from({ length: concurrency }, () => b.httpClient());
  let next = 0;
  const t = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      for (let i = next++; i < total; i = next++) await c.mutation(api.fixture.add, { text: `t${i}`, n: 7_000_000 });
    }),
  );
  return { perSecond: Math.round((total / (performance.now() - t)) * 1000), n: total };
}

async function seed(b: SpawnedBackend, docs: number) {
  const perTable = docs / 2;
  const http = b.httpClient();
  const batch = 500;
  for (let start = 0; start < perTable; start += batch) {
    await http.mutation(api.fixture.seed, { start, count: Math.min(batch, perTable - start), buckets: perTable / 10 });
  }
}

async function liveUpdate(b: SpawnedBackend, subscribers: number, size: number): Promise<Stats> {
  const n = 10_000_000 + subscribers; // a bucket nobody else writes
  const clients = Array.from({ length: subscribers }, () => b.client());
  let expected = 0;
  const counts = new Array<number>(subscribers).fill(-1);
  let waiter: (() => void) | null = null;
  const check = () => {
    if (waiter && counts.every((c) => c >= expected)) {
      const w = waiter;
      waiter = null;
      w();
    }
  };
  const unsub = clients.map((c, i) =>
    c.onUpdate(api.fixture.byN, { n }, (v: string[]) => {
      counts[i] = v.length;
      check();
    }),
  );
  const waitAll = () =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`live update timed out (${subscribers} subscribers, ${size} docs)`)), 30_000);
      waiter = () => {
        clearTimeout(t);
        resolve();
      };
      check();
    });
  expected = 0;
  await waitAll();
  const writer = b.httpClient();
  const samples: number[] = [];
  for (let i = 0; i < LIVE_ITER; i++) {
    expected = i + 1;
    const t = performance.now();
    const done = waitAll();
    await writer.mutation(api.fixture.add, { text: `live-${i}`, n });
    await done;
    samples.push(performance.now() - t);
  }
  unsub.forEach((u) => u());
  await Promise.all(clients.map((c) => c.close()));
  return stats(samples);
}

async function benchSize(size: number, upstream: boolean) {
  const b = await spawnBackend({
    convexDir: fixture,
    env: {
      FIXTURE_ES_JWKS_B64: Buffer.from('{"keys":[]}').toString("base64"),
      FIXTURE_RS_JWKS: '{"keys":[]}',
      ...(upstream ? { KEYHOLE_BENCH_UPSTREAM_SCAN: "1" } : {}),
    },
  });
  try {
    const t0 = performance.now();
    await seed(b, size);
    const seedMs = Math.round(performance.now() - t0);
    const http = b.httpClient();
    const buckets = size / 2 / 10;
    const rnd = () => Math.floor(Math.random() * buckets);
    const result: Record<string, unknown> = { documents: size, seedMs, startupMs: b.startupMs };
    result.httpQuery = await time(upstream ? 50 : ITER, () => http.query(api.fixture.byN, { n: rnd() }));
    if (upstream) return result;
    result.httpMutation = await time(ITER, (i) => http.mutation(api.fixture.add, { text: `m${i}`, n: 5_000_000 }));
    result.mutationThroughput16 = await throughput(b, 16, ITER * 5);
    const ws = b.client();
    await ws.query(api.fixture.byN, { n: 0 });
    result.socketQuery = await time(ITER, () => ws.query(api.fixture.byN, { n: rnd() }));
    result.socketMutation = await time(ITER, (i) => ws.mutation(api.fixture.add, { text: `w${i}`, n: 6_000_000 }));
    await ws.close();
    result.liveUpdate1 = await liveUpdate(b, 1, size);
    result.liveUpdate100 = await liveUpdate(b, 100, size);
    return result;
  } finally {
    await b.stop();
  }
}

async function main() {
  const results: Record<string, unknown>[] = [];
  for (const size of SIZES) {
    process.stderr.write(`benchmarking ${size} documents…\n`);
    const r = await benchSize(size, false);
    process.stderr.write(`  … and convex-test's full scan for reference\n`);
    const up = await benchSize(size, true);
    r.httpQueryUpstreamScan = up.httpQuery;
    results.push(r);
  }
  const rows: Array<[string, string]> = [
    ["httpQuery", "query, HTTP (indexed, 10 rows)"],
    ["httpQueryUpstreamScan", "  same, convex-test full scan"],
    ["httpMutation", "mutation, HTTP (fsync'ed)"],
    ["socketQuery", "query, socket (one-shot)"],
    ["socketMutation", "mutation, socket"],
    ["liveUpdate1", "write → live update, 1 sub"],
    ["liveUpdate100", "write → live update, 100 subs"],
  ];
  const header = ["", ...results.map((r) => `${r.documents} docs p50 / p95 ms`)];
  const lines = [header, ...rows.map(([k, label]) => [label, ...results.map((r) => {
    const s = r[k] as Stats | undefined;
    return s ? `${s.p50} / ${s.p95}` : "-";
  })])];
  lines.push(["mutations/s, HTTP, c=16", ...results.map((r) => `${(r.mutationThroughput16 as { perSecond: number }).perSecond}/s`)]);
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i]!)).join("   "));
  const out = {
    when: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` },
    iterations: { roundTrip: ITER, liveUpdate: LIVE_ITER },
    results,
  };
  fs.mkdirSync(path.join(here, "results"), { recursive: true });
  fs.writeFileSync(path.join(here, "results", "local.json"), JSON.stringify(out, null, 2) + "\n");
  console.log(`\nwrote bench/results/local.json`);
  process.exit(0);
}

void main();
