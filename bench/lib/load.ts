// A small HTTP load generator: fixed concurrency, bounded by a request count
// and a duration, loopback only. Each worker keeps one keep-alive connection
// busy; latency is measured per request from send to the end of the body.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { round, summarize } from "./stats";

export interface LoadOptions {
  /** Base URL (must be loopback). */
  url: string;
  path: string;
  method?: "GET" | "POST";
  /** Headers for the i-th request (e.g. a different key each time). */
  headers: (i: number) => Record<string, string>;
  body?: (i: number) => string | undefined;
  concurrency: number;
  /** Stop after this many requests... */
  maxRequests: number;
  /** ...or after this long, whichever comes first. */
  durationMs: number;
  /** Requests before measuring starts (same connections). */
  warmup?: number;
  /** Which statuses count as success (default 200). */
  ok?: (status: number) => boolean;
}

export interface LoadResult {
  requests: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  elapsedMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function assertLoopback(url: string): URL {
  const u = new URL(url);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) {
    throw new Error(`refusing to load a non-loopback host: ${u.hostname}`);
  }
  return u;
}

function request(
  agent: http.Agent,
  base: URL,
  path: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: base.hostname.replace(/^\[|\]$/g, ""), port: base.port, path, method, headers, agent },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", () => resolve(0));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const base = assertLoopback(opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const method = opts.method ?? "GET";
  const ok = opts.ok ?? ((s: number) => s === 200);
  try {
    // Warm-up: open the connections and let JITs settle.
    const warm = opts.warmup ?? opts.concurrency * 5;
    let wi = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (wi < warm) {
          const i = wi++;
          await request(agent, base, opts.path, method, opts.headers(i), opts.body?.(i));
        }
      }),
    );

    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    let next = 0;
    let okCount = 0;
    const started = performance.now();
    const deadline = started + opts.durationMs;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (next < opts.maxRequests && performance.now() < deadline) {
          const i = next++;
          const t0 = performance.now();
          const status = await request(agent, base, opts.path, method, opts.headers(i), opts.body?.(i));
          latencies.push(performance.now() - t0);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (ok(status)) okCount++;
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const s = summarize(latencies);
    return {
      requests: latencies.length,
      ok: okCount,
      errors: latencies.length - okCount,
      statuses,
      elapsedMs: round(elapsedMs),
      rps: round((latencies.length / elapsedMs) * 1000, 1),
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      maxMs: s.maxMs,
    };
  } finally {
    agent.destroy();
  }
}
