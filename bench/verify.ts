// HTTP verify: `GET /api/whoami` with a PAT on the embedded backend, side by
// side in the same run with the peer (Better Auth's API-key plugin verifying
// its keys through its own verify API, on SQLite with synchronous=NORMAL and
// then =FULL) and the floor (bench/floor: a bare node:http server doing only
// the token check) — same machine, same load generator, same concurrency,
// same key count. Each server runs in its own process.
//
//   npx tsx bench/verify.ts [--keys 1000,10000,100000] [--concurrency 16] [--seconds 10]
//                           [--profile DIR]   (keyhole's backend writes a .cpuprofile to DIR;
//                                              summarize it with bench/lib/profile.ts)
//                           [--warm]          (every key is used once, untimed, before each
//                                              timed run: keyhole's use records of the minute
//                                              are written, as for keys in steady use)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnBackend } from "../test/helpers/backend";
import { runLoad, type LoadResult } from "./lib/load";
import { freePort } from "./lib/ports";
import { rssBytes } from "./lib/proc";
import { fmt, formatTable, isMain, writeResult, type BenchResult, type BenchRow } from "./lib/report";
import { seedInChild } from "./lib/seedProcess";
import { startFloorProcess } from "./floor/spawn";
import { startPeerProcess } from "./peer/spawn";

export interface VerifyOptions {
  keyCounts?: number[];
  concurrency?: number;
  durationMs?: number;
  maxRequests?: number;
  /** A directory: keyhole's backend runs with `node --cpu-prof` and writes its profile there. */
  profileDir?: string;
  /** Each key used once (untimed) before each timed run, in the order the timed run uses them. */
  warm?: boolean;
}

type Measured = LoadResult & { rssMB: number };

export interface VerifyCase {
  keys: number;
  concurrency: number;
  keyhole: Measured;
  /** Better Auth's API-key plugin on SQLite (WAL), synchronous=NORMAL: its production setting. */
  peer: Measured & { storage: string };
  /** The same peer process and keys, synchronous=FULL: an fsync per commit, as keyhole acknowledges. */
  peerFull: Measured;
  /** A bare node:http server: ES256 verify + SHA-256 + Map lookup per request (bench/floor). */
  floor: Measured;
  /** keyhole throughput / peer throughput (synchronous=NORMAL). */
  ratio: number;
  ratioFull: number;
  /** keyhole throughput / floor throughput. */
  ofFloor: number;
  rejectsUnknown: { keyhole: number; peer: number; floor: number };
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
  if (o.warm) {
    const pass = await runLoad({
      url,
      path: "/api/whoami",
      headers: (i) => ({ authorization: `Bearer ${pick(i)}` }),
      concurrency: o.concurrency,
      maxRequests: keys.length,
      durationMs: 3_600_000,
      warmup: 0,
    });
    console.error(`[verify]   warm pass: ${keys.length} keys in ${Math.round(pass.elapsedMs / 100) / 10} s`);
  }
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

async function measure(url: string, keys: string[], pid: number, o: Required<VerifyOptions>): Promise<Measured> {
  const r = await loadAgainst(url, keys, o);
  return { ...r, rssMB: Math.round(rssBytes(pid) / 1048576) };
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

async function runCase(n: number, o: Required<VerifyOptions>): Promise<VerifyCase> {
  const dataDir = mkdtempSync(join(tmpdir(), "keyhole-bench-verify-"));
  const sitePort = await freePort();
  console.error(`[verify] seeding ${n} PATs into the embedded backend…`);
  const seeded = await seedInChild({ dataDir, sitePort, tokens: n, bulk: true });
  // (One file per thread: the main thread's is the largest; tsx's loader thread writes one too.)
  const execArgv = o.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${join(o.profileDir, `keyhole-${n}`)}`] : [];
  const backend = await spawnBackend({ dataDir, sitePort, timeoutMs: 600_000, execArgv });
  console.error(`[verify] seeding ${n} keys into the peer and the floor…`);
  const peer = await startPeerProcess({ keys: n });
  const floor = await startFloorProcess({ keys: n });
  try {
    const keyholeKeys = seeded.tokens.map((t) => t.token);
    // Sanity: each accepts a real key and rejects an unknown one.
    for (const [name, url, key] of [["keyhole", backend.siteUrl, keyholeKeys[0]!], ["peer", peer.url, peer.keys[0]!], ["floor", floor.url, floor.keys[0]!]] as const) {
      if ((await statusOf(url, key)) !== 200) throw new Error(`${name} rejected a seeded key`);
    }
    const rejectsUnknown = {
      keyhole: await statusOf(backend.siteUrl, keyholeKeys[0]!.slice(0, -4) + "AAAA"),
      peer: await statusOf(peer.url, peer.keys[0]!.slice(0, -4) + "AAAA"),
      floor: await statusOf(floor.url, floor.keys[0]!.slice(0, -4) + "AAAA"),
    };
    console.error(`[verify] ${n} keys: keyhole…`);
    const k = await measure(backend.siteUrl, keyholeKeys, backend.pid, o);
    console.error(`[verify] ${n} keys: peer (${peer.storage}, synchronous=NORMAL)…`);
    const p = await measure(peer.url, peer.keys, peer.pid, o);
    await fetch(`${peer.url}/__bench/synchronous/FULL`, { method: "POST" }).then((r) => r.arrayBuffer());
    console.error(`[verify] ${n} keys: peer (${peer.storage}, synchronous=FULL)…`);
    const pf = await measure(peer.url, peer.keys, peer.pid, o);
    console.error(`[verify] ${n} keys: floor…`);
    const f = await measure(floor.url, floor.keys, floor.pid, o);
    return {
      keys: n,
      concurrency: o.concurrency,
      keyhole: k,
      peer: { ...p, storage: peer.storage },
      peerFull: pf,
      floor: f,
      ratio: ratio(k.rps, p.rps),
      ratioFull: ratio(k.rps, pf.rps),
      ofFloor: ratio(k.rps, f.rps),
      rejectsUnknown,
      seedMs: { keyhole: seeded.seedMs.tokens, peer: peer.seedMs },
    };
  } finally {
    await floor.stop();
    await peer.stop();
    await backend.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runVerifyBench(options: VerifyOptions = {}): Promise<BenchResult> {
  const o: Required<VerifyOptions> = {
    keyCounts: options.keyCounts ?? [1000, 10000],
    concurrency: options.concurrency ?? 16,
    durationMs: options.durationMs ?? 10_000,
    maxRequests: options.maxRequests ?? 100_000,
    profileDir: options.profileDir ?? "",
    warm: options.warm ?? false,
  };
  const cases: VerifyCase[] = [];
  for (const n of o.keyCounts) cases.push(await runCase(n, o));
  const rows: BenchRow[] = [];
  const B = "HTTP verify (GET /api/whoami)";
  const errs = (r: LoadResult) => (r.errors ? `, ${r.errors} non-200 (${JSON.stringify(r.statuses)})` : "");
  const figure = (r: LoadResult) => `${fmt.rps(r.rps)}, p50 ${fmt.ms(r.p50Ms)}, p99 ${fmt.ms(r.p99Ms)}`;
  const notes = (r: Measured) => `${r.requests} requests${errs(r)}; RSS ${r.rssMB} MB`;
  for (const c of cases) {
    const keys = `${fmt.n(c.keys)} keys, c=${c.concurrency}`;
    rows.push({ benchmark: B, case: `keyhole, ${keys}`, figure: figure(c.keyhole), notes: notes(c.keyhole) });
    rows.push({ benchmark: B, case: `Better Auth api-key (${c.peer.storage}, synchronous=NORMAL), ${keys}`, figure: figure(c.peer), notes: notes(c.peer) });
    rows.push({ benchmark: B, case: `Better Auth api-key (${c.peer.storage}, synchronous=FULL), ${keys}`, figure: figure(c.peerFull), notes: notes(c.peerFull) });
    rows.push({ benchmark: B, case: `floor (node:http + ES256 + SHA-256 + Map), ${keys}`, figure: figure(c.floor), notes: notes(c.floor) });
    rows.push({
      benchmark: B,
      case: `ratios, ${fmt.n(c.keys)} keys`,
      figure: `${c.ratio.toFixed(2)}× peer, ${c.ratioFull.toFixed(2)}× peer FULL, ${Math.round(c.ofFloor * 100)}% of floor`,
      notes: `p99 keyhole ${c.keyhole.p99Ms} / peer ${c.peer.p99Ms} / peer FULL ${c.peerFull.p99Ms} / floor ${c.floor.p99Ms} ms`,
    });
  }
  return { name: "verify", rows, data: cases, params: o };
}

/** One markdown table, a row per key count: what bench/RESULTS.md shows. */
export function verifyTable(cases: VerifyCase[]): string {
  const r = (m: LoadResult) => `${Math.round(m.rps).toLocaleString("en-US")}`;
  const lines = [
    "| keys | keyhole req/s | peer NORMAL | peer FULL | floor | ×peer | ×peer FULL | % of floor | p99 ms keyhole / peer / peer FULL / floor |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const c of cases) {
    lines.push(
      `| ${fmt.n(c.keys)} | ${r(c.keyhole)} | ${r(c.peer)} | ${r(c.peerFull)} | ${r(c.floor)} | ${c.ratio.toFixed(2)}× | ${c.ratioFull.toFixed(2)}× | ${Math.round(c.ofFloor * 100)}% | ${c.keyhole.p99Ms} / ${c.peer.p99Ms} / ${c.peerFull.p99Ms} / ${c.floor.p99Ms} |`,
    );
  }
  return lines.join("\n");
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
    profileDir: arg("profile"),
    warm: process.argv.includes("--warm"),
  });
  console.log(formatTable(result.rows));
  console.log(`\n${verifyTable(result.data as VerifyCase[])}`);
  console.error(`wrote ${writeResult(result)}`);
  process.exit(0);
}
