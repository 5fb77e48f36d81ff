// Where a verification's CPU goes: the server's own CPU time per request
// (utime + stime of its process, from /proc), layer by layer, each case adding
// one layer to the one before. Unlike req/s, CPU per request hardly moves when
// other work shares the machine, so it compares runs made at different loads.
//
//   npx tsx bench/stages.ts [--requests 12000] [--concurrency 16]
//
// 12,000 requests a case: with 3,000 the one-off work of the first requests
// (JIT, modules loaded on first use) doubled the first case's figure.
//
// Cases (keyhole's backend, then the verify bench's floor and peer for scale):
//   site 404         node:http → the site port → an HTTP action that no route matches
//   whoami, no key   + the API's Hono app and a 401 answer
//   whoami, steady   + a PAT: identity (cached signature check) + the read-only query
//   whoami, due      + each key's first use of the minute: the mutation and its fsync
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnBackend } from "../test/helpers/backend";
import { startFloorProcess } from "./floor/spawn";
import { runLoad } from "./lib/load";
import { freePort } from "./lib/ports";
import { cpuMs } from "./lib/proc";
import { isMain, writeResult, type BenchRow } from "./lib/report";
import { seedInChild } from "./lib/seedProcess";
import { startPeerProcess } from "./peer/spawn";

type Stage = { name: string; cpuMsPerRequest: number; rps: number; statuses: Record<string, number> };

async function stage(name: string, pid: number, url: string, path: string, key: (i: number) => string | null, requests: number, concurrency: number): Promise<Stage> {
  const headers = (i: number): Record<string, string> => {
    const k = key(i);
    return k === null ? {} : { authorization: `Bearer ${k}` };
  };
  const load = (n: number, warmup: number) =>
    runLoad({ url, path, headers, concurrency, maxRequests: n, durationMs: 3_600_000, warmup, ok: () => true });
  const before = cpuMs(pid);
  const r = await load(requests, 0);
  const perRequest = (cpuMs(pid) - before) / r.requests;
  console.error(`[stages] ${name}: ${perRequest.toFixed(3)} ms CPU per request (${Math.round(r.rps)} req/s)`);
  return { name, cpuMsPerRequest: Math.round(perRequest * 1000) / 1000, rps: Math.round(r.rps), statuses: r.statuses };
}

export async function runStagesBench(o: { requests?: number; concurrency?: number; profileDir?: string; only?: string } = {}) {
  const requests = o.requests ?? 12_000;
  const concurrency = o.concurrency ?? 16;
  const dataDir = mkdtempSync(join(tmpdir(), "keyhole-bench-stages-"));
  const sitePort = await freePort();
  // One key per "due" request (each used once), one more for the steady case.
  const seeded = await seedInChild({ dataDir, sitePort, tokens: requests + 1, bulk: true });
  const keys = seeded.tokens.map((t) => t.token);
  const execArgv = o.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${o.profileDir}`] : [];
  const backend = await spawnBackend({ dataDir, sitePort, timeoutMs: 600_000, execArgv });
  const stages: Stage[] = [];
  try {
    const steady = keys[requests]!;
    // Warm-up: modules loaded, the steady key's use of the minute recorded.
    await runLoad({ url: backend.siteUrl, path: "/api/whoami", headers: () => ({ authorization: `Bearer ${steady}` }), concurrency, maxRequests: 500, durationMs: 60_000, warmup: 0 });
    const k = async (name: string, path: string, key: (i: number) => string | null) =>
      o.only && !name.includes(o.only) ? [] : [await stage(name, backend.pid, backend.siteUrl, path, key, requests, concurrency)];
    stages.push(...await k("keyhole: site 404 (node:http + HTTP action, no route)", "/no-such-route", () => null));
    stages.push(...await k("keyhole: whoami, no key (+ API app, 401)", "/api/whoami", () => null));
    stages.push(...await k("keyhole: whoami, steady key (+ identity, read-only query)", "/api/whoami", () => steady));
    stages.push(...await k("keyhole: whoami, use record due (+ mutation, fsync)", "/api/whoami", (i) => keys[i % requests]!));
  } finally {
    await backend.stop();
  }
  for (const [name, start] of o.only ? [] :  [["floor (node:http + ES256 + SHA-256 + Map)", startFloorProcess], ["Better Auth api-key (SQLite, NORMAL)", startPeerProcess]] as const) {
    const p = await start({ keys: 1000 });
    try {
      await runLoad({ url: p.url, path: "/api/whoami", headers: (i) => ({ authorization: `Bearer ${p.keys[i % p.keys.length]}` }), concurrency, maxRequests: 500, durationMs: 60_000, warmup: 0 });
      stages.push(await stage(name, p.pid, p.url, "/api/whoami", (i) => p.keys[i % p.keys.length]!, requests, concurrency));
    } finally {
      await p.stop();
    }
  }
  const rows: BenchRow[] = stages.map((s, i) => ({
    benchmark: "CPU per verification, by layer",
    case: s.name,
    figure: `${s.cpuMsPerRequest.toFixed(3)} ms CPU / request`,
    notes: `${s.name.startsWith("keyhole") && stages[i - 1]?.name.startsWith("keyhole") ? `+${(s.cpuMsPerRequest - stages[i - 1]!.cpuMsPerRequest).toFixed(3)} ms over the line above; ` : ""}${s.rps} req/s at c=${concurrency}; statuses ${JSON.stringify(s.statuses)}`,
  }));
  return { name: "stages", rows, data: { requests, concurrency, stages } };
}

if (isMain(import.meta.url)) {
  const flag = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const number = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
  const result = await runStagesBench({ requests: number("requests"), concurrency: number("concurrency"), profileDir: flag("profile"), only: flag("only") });
  writeResult(result);
  const { formatTable } = await import("./lib/report");
  console.log(formatTable(result.rows));
  process.exit(0);
}
