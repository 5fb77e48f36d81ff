// HTTP verify: `GET /api/whoami` with a PAT on the embedded backend, side by
// side in the same run with the peer (Better Auth's API-key plugin verifying
// its keys through its own verify API) — same machine, same load generator,
// same concurrency, same key count. Each server runs in its own process.
//
//   npx tsx bench/verify.ts [--keys 1000,10000] [--concurrency 16] [--seconds 10]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnBackend } from "../test/helpers/backend";
import { runLoad, type LoadResult } from "./lib/load";
import { freePort } from "./lib/ports";
import { rssBytes } from "./lib/proc";
import { fmt, formatTable, isMain, writeResult, type BenchResult, type BenchRow } from "./lib/report";
import { seedInChild } from "./lib/seedProcess";
import { startPeerProcess } from "./peer/spawn";

export interface VerifyOptions {
  keyCounts?: number[];
  concurrency?: number;
  durationMs?: number;
  maxRequests?: number;
}

export interface VerifyCase {
  keys: number;
  concurrency: number;
  keyhole: LoadResult & { rssMB: number };
  peer: LoadResult & { rssMB: number; storage: string };
  /** keyhole throughput / peer throughput. */
  ratio: number;
  rejectsUnknown: { keyhole: number; peer: number };
  seedMs: { keyhole: number; peer: number };
}

/** Spreads requests over the whole key set (a stride coprime with n). */
function spread(keys: string[]) {
  const n = keys.length;
  let stride = Math.max(1, Math.floor(n * 0.618));
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  while (gcd(stride, n) !== 1) stride++;
  return (i: number) => keys[(i * stride) % n]!;
}

async function loadAgainst(url: string, keys: string[], o: Required<VerifyOptions>) {
  const pick = spread(keys);
  return await runLoad({
    url,
    path: "/api/whoami",
    headers: (i) => ({ authorization: `Bearer ${pick(i)}` }),
    concurrency: o.concurrency,
    maxRequests: o.maxRequests,
    durationMs: o.durationMs,
  });
}

async function statusOf(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

export async function runVerifyBench(options: VerifyOptions = {}): Promise<BenchResult> {
  const o: Required<VerifyOptions> = {
    keyCounts: options.keyCounts ?? [1000, 10000],
    concurrency: options.concurrency ?? 16,
    durationMs: options.durationMs ?? 10_000,
    maxRequests: options.maxRequests ?? 100_000,
  };
  const cases: VerifyCase[] = [];
  for (const n of o.keyCounts) {
    const dataDir = mkdtempSync(join(tmpdir(), "keyhole-bench-verify-"));
    const sitePort = await freePort();
    console.error(`[verify] seeding ${n} PATs into the embedded backend…`);
    const seeded = await seedInChild({ dataDir, sitePort, tokens: n });
    const backend = await spawnBackend({ dataDir, sitePort, timeoutMs: 120_000 });
    console.error(`[verify] seeding ${n} keys into the peer…`);
    const peer = await startPeerProcess({ keys: n });
    try {
      const keyholeKeys = seeded.tokens.map((t) => t.token);
      // Sanity: both accept a real key and reject an unknown one.
      if ((await statusOf(backend.siteUrl, keyholeKeys[0]!)) !== 200) throw new Error("keyhole rejected a seeded PAT");
      if ((await statusOf(peer.url, peer.keys[0]!)) !== 200) throw new Error("the peer rejected a seeded key");
      const rejectsUnknown = {
        keyhole: await statusOf(backend.siteUrl, keyholeKeys[0]!.slice(0, -4) + "AAAA"),
        peer: await statusOf(peer.url, peer.keys[0]!.slice(0, -4) + "AAAA"),
      };
      console.error(`[verify] ${n} keys: keyhole…`);
      const k = await loadAgainst(backend.siteUrl, keyholeKeys, o);
      const kRss = rssBytes(backend.pid);
      console.error(`[verify] ${n} keys: peer (${peer.storage})…`);
      const p = await loadAgainst(peer.url, peer.keys, o);
      const pRss = rssBytes(peer.pid);
      cases.push({
        keys: n,
        concurrency: o.concurrency,
        keyhole: { ...k, rssMB: Math.round(kRss / 1048576) },
        peer: { ...p, rssMB: Math.round(pRss / 1048576), storage: peer.storage },
        ratio: Math.round((k.rps / p.rps) * 100) / 100,
        rejectsUnknown,
        seedMs: { keyhole: seeded.seedMs.tokens, peer: peer.seedMs },
      });
    } finally {
      await peer.stop();
      await backend.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const rows: BenchRow[] = [];
  for (const c of cases) {
    const errs = (r: LoadResult) => (r.errors ? `, ${r.errors} non-200 (${JSON.stringify(r.statuses)})` : "");
    rows.push({
      benchmark: "HTTP verify (GET /api/whoami)",
      case: `keyhole, ${fmt.n(c.keys)} PATs, c=${c.concurrency}`,
      figure: `${fmt.rps(c.keyhole.rps)}, p50 ${fmt.ms(c.keyhole.p50Ms)}, p99 ${fmt.ms(c.keyhole.p99Ms)}`,
      notes: `${c.keyhole.requests} requests${errs(c.keyhole)}; RSS ${c.keyhole.rssMB} MB`,
    });
    rows.push({
      benchmark: "HTTP verify (GET /api/whoami)",
      case: `Better Auth api-key (${c.peer.storage}), ${fmt.n(c.keys)} keys, c=${c.concurrency}`,
      figure: `${fmt.rps(c.peer.rps)}, p50 ${fmt.ms(c.peer.p50Ms)}, p99 ${fmt.ms(c.peer.p99Ms)}`,
      notes: `${c.peer.requests} requests${errs(c.peer)}; RSS ${c.peer.rssMB} MB`,
    });
    rows.push({
      benchmark: "HTTP verify (GET /api/whoami)",
      case: `ratio keyhole / Better Auth, ${fmt.n(c.keys)} keys`,
      figure: `${c.ratio.toFixed(2)}× throughput`,
      notes: `p50 ${c.keyhole.p50Ms} vs ${c.peer.p50Ms} ms, p99 ${c.keyhole.p99Ms} vs ${c.peer.p99Ms} ms`,
    });
  }
  return { name: "verify", rows, data: cases, params: o };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (isMain(import.meta.url)) {
  const result = await runVerifyBench({
    keyCounts: arg("keys")?.split(",").map(Number),
    concurrency: arg("concurrency") ? Number(arg("concurrency")) : undefined,
    durationMs: arg("seconds") ? Number(arg("seconds")) * 1000 : undefined,
  });
  console.log(formatTable(result.rows));
  console.error(`wrote ${writeResult(result)}`);
  process.exit(0);
}
