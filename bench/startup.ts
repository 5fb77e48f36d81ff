// `npm start` to ready, and memory with a realistic amount of data.
//  1. `npm start` on an empty data dir (first start: generates secrets), from
//     spawning npm to the ready banner with the API answering — the whole
//     command a newcomer runs, dashboard included. Median of 3.
//  2. The same on a data dir holding 10k PATs and 100k audit events
//     (seeded with bench/lib/seed.ts: PATs through the real createApiToken
//     mutation, extra audit events inserted directly), then the resident set
//     size of the backend process right after start and after 2,000 HTTP
//     verifications spread over all tokens.
//
//   npx tsx bench/startup.ts [--tokens 10000] [--audit 100000]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { runLoad } from "./lib/load";
import { freePort } from "./lib/ports";
import { descendants, rssBytes } from "./lib/proc";
import { fmt, formatTable, isMain, writeResult, type BenchResult, type BenchRow } from "./lib/report";
import { seedInChild } from "./lib/seedProcess";
import { percentile } from "./lib/stats";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Started {
  readyMs: number;
  apiUrl: string;
  siteUrl: string;
  backendPid: number | null;
  treePids: number[];
  output: () => string;
  stop(): Promise<void>;
}

/** Runs `npm start` (its own process group) and waits for the banner and the API. */
async function npmStart(dataDir: string, sitePort: number, timeoutMs = 180_000): Promise<Started> {
  const [port, webPort] = [await freePort(), await freePort()];
  const t0 = performance.now();
  const child = spawn(
    "npm",
    ["start", "--", "--port", String(port), "--site-port", String(sitePort), "--web-port", String(webPort), "--data-dir", dataDir],
    { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BROWSER: "none" } },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += String(d)));
  child.stderr.on("data", (d) => (out += String(d)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 8_000);
    await exited;
    clearTimeout(timer);
  };
  const apiUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  try {
    while (!out.includes("keyhole is running")) {
      if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${out}`);
      if (Date.now() > deadline) throw new Error(`npm start not ready in ${timeoutMs} ms:\n${out}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const res = await fetch(`${apiUrl}/version`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`API answered ${res.status}`);
  } catch (e) {
    await stop();
    throw e;
  }
  const readyMs = performance.now() - t0;
  const tree = [child.pid!, ...descendants(child.pid!)];
  const backendPid =
    tree.find((p) => {
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
        return /node$/.test(argv[0] ?? "") && argv.some((a) => a.endsWith("local/start.ts"));
      } catch {
        return false;
      }
    }) ?? null;
  return { readyMs, apiUrl, siteUrl: `http://127.0.0.1:${sitePort}`, backendPid, treePids: tree, output: () => out, stop };
}

export interface StartupOptions {
  tokens?: number;
  auditEvents?: number;
  emptyRuns?: number;
}

/** `npm start` on a fresh, empty data dir, `runs` times: time to ready, and the backend's RSS. */
async function emptyStarts(runs: number): Promise<{ emptyMs: number[]; emptyRss: number }> {
  const emptyMs: number[] = [];
  let emptyRss = NaN;
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), "keyhole-bench-start-"));
    try {
      const s = await npmStart(dir, await freePort());
      emptyMs.push(s.readyMs);
      if (s.backendPid) emptyRss = rssBytes(s.backendPid);
      await s.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { emptyMs, emptyRss };
}

export async function runStartupBench(options: StartupOptions = {}): Promise<BenchResult> {
  const tokens = options.tokens ?? 10_000;
  const auditEvents = options.auditEvents ?? 100_000;
  const runs = options.emptyRuns ?? 3;

  // 1. Empty data dir.
  const { emptyMs, emptyRss } = await emptyStarts(runs);

  // 2. Seeded data dir.
  const dir = mkdtempSync(join(tmpdir(), "keyhole-bench-rss-"));
  const sitePort = await freePort();
  try {
    console.error(`[startup] seeding ${tokens} PATs and ${auditEvents} audit events…`);
    const seeded = await seedInChild({ dataDir: dir, sitePort, tokens, auditEvents });
    const s = await npmStart(dir, sitePort);
    try {
      const rssStart = s.backendPid ? rssBytes(s.backendPid) : NaN;
      const keys = seeded.tokens.map((t) => t.token);
      const load = await runLoad({
        url: s.siteUrl,
        path: "/api/whoami",
        headers: (i) => ({ authorization: `Bearer ${keys[(i * 7919) % keys.length]}` }),
        concurrency: 8,
        maxRequests: 2000,
        durationMs: 120_000,
        warmup: 0,
      });
      const rssAfter = s.backendPid ? rssBytes(s.backendPid) : NaN;
      const treeRss = s.treePids.map(rssBytes).filter(Number.isFinite).reduce((a, b) => a + b, 0);
      const data = {
        empty: { runs: emptyMs.map(Math.round), medianMs: Math.round(percentile(emptyMs, 50)), backendRssMB: Math.round(emptyRss / 1048576) },
        seeded: {
          tokens: seeded.tokens.length,
          auditEvents: seeded.auditEvents,
          users: seeded.users.length,
          seedMs: seeded.seedMs,
          readyMs: Math.round(s.readyMs),
          backendRssStartMB: Math.round(rssStart / 1048576),
          backendRssAfterLoadMB: Math.round(rssAfter / 1048576),
          npmStartTreeRssMB: Math.round(treeRss / 1048576),
          verifications: load.requests,
          verificationsOk: load.ok,
        },
      };
      const rows: BenchRow[] = [
        {
          benchmark: "`npm start` to ready",
          case: "empty data dir (first start)",
          figure: fmt.ms(data.empty.medianMs),
          notes: `median of ${runs}: ${data.empty.runs.join(", ")} ms; banner printed and API answering, dashboard included; backend RSS ${data.empty.backendRssMB} MB`,
        },
        {
          benchmark: "`npm start` to ready",
          case: `${fmt.n(tokens)} PATs + ${fmt.n(auditEvents)} audit events`,
          figure: fmt.ms(data.seeded.readyMs),
          notes: `${seeded.users.length} people; store replayed and compacted at start`,
        },
        {
          benchmark: "Memory (RSS)",
          case: `backend, ${fmt.n(tokens)} PATs + ${fmt.n(auditEvents)} audit events`,
          figure: `${data.seeded.backendRssStartMB} MB at start, ${data.seeded.backendRssAfterLoadMB} MB after ${load.ok} verifications`,
          notes: `whole npm start tree (npm, backend, dashboard dev server): ${data.seeded.npmStartTreeRssMB} MB`,
        },
      ];
      return { name: "startup", rows, data, params: { tokens, auditEvents, runs } };
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : undefined;
}

if (isMain(import.meta.url)) {
  const result = await runStartupBench({ tokens: arg("tokens"), auditEvents: arg("audit") });
  console.log(formatTable(result.rows));
  console.error(`wrote ${writeResult(result)}`);
  process.exit(0);
}
