// Agent-session benchmark: createSession and refreshSession rates (and
// validateSession) through the official ConvexHttpClient against the embedded
// backend in a child process. Prints the figures and writes
// bench/results/sessions.json.
//
//   npx tsx bench/sessions.ts [--n 400] [--concurrency 8]
//
// Sessions are spread over several people because creation is rate limited
// per person (LIMITS.sessionCreate); refreshes each rotate a different family
// (rotating one family concurrently is reuse, by design).
import { ConvexHttpClient } from "convex/browser";
import type { FunctionReturnType } from "convex/server";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { api } from "../convex/_generated/api";
import { LIMITS } from "../convex/model/rateLimit";
import { spawnBackend } from "../test/helpers/backend";
import { round, summarize } from "./lib/stats";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const N = arg("n", 400);
const CONCURRENCY = arg("concurrency", 8);
const PER_PERSON = Math.floor(LIMITS.sessionCreate.max * 0.9);

type Pair = { token: string; refreshToken: string; sessionId: string; expiresAt: number };

/** Runs `count` jobs with `concurrency` workers; per-job latency in ms and the wall time. */
async function run(count: number, concurrency: number, job: (i: number) => Promise<unknown>) {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const s = performance.now();
        await job(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  return { ...summarize(lat), elapsedMs: round(elapsedMs), perSecond: round((count / elapsedMs) * 1000, 1) };
}

const b = await spawnBackend();
try {
  const anon = new ConvexHttpClient(b.url, { logger: false });
  const people: ConvexHttpClient[] = [];
  const peopleNeeded = Math.ceil((N * 2) / PER_PERSON); // sequential + concurrent phases
  for (let i = 0; i < peopleNeeded; i++) {
    const res = (await anon.action(api.auth.signIn, {
      provider: "password",
      params: { email: `bench-s${i}-${Date.now()}@example.test`, password: "correct horse battery", flow: "signUp" },
    })) as { tokens: { token: string } };
    const c = new ConvexHttpClient(b.url, { logger: false });
    c.setAuth(res.tokens.token);
    people.push(c);
  }
  const clients = Array.from({ length: CONCURRENCY }, () => new ConvexHttpClient(b.url, { logger: false }));
  const as = (i: number) => people[Math.floor(i / PER_PERSON) % people.length];

  // createSession: one at a time, then CONCURRENCY at a time.
  const seq: Pair[] = [];
  const createSeq = await run(N, 1, async (i) => {
    seq.push(await as(i).mutation(api.auth.createSession, { agentId: `bench-${i}`, ttl: 3600, metadata: { i } }));
  });
  const conc: Pair[] = [];
  const createConc = await run(N, CONCURRENCY, async (i) => {
    conc.push(await as(N + i).mutation(api.auth.createSession, { agentId: `bench-c${i}`, ttl: 3600 }));
  });

  // refreshSession (a mutation), each on its own family.
  const rotated = (r: FunctionReturnType<typeof api.auth.refreshSession>): Pair => {
    if (!r.ok || r.refreshToken === undefined) throw new Error(`refresh refused: ${r.ok ? "no refresh token" : r.code}`);
    return { token: r.token, refreshToken: r.refreshToken, sessionId: r.sessionId, expiresAt: r.expiresAt };
  };
  const refreshSeq = await run(seq.length, 1, async (i) => {
    seq[i] = rotated(await anon.mutation(api.auth.refreshSession, { refreshToken: seq[i].refreshToken }));
  });
  const refreshConc = await run(conc.length, CONCURRENCY, async (i) => {
    conc[i] = rotated(await clients[i % CONCURRENCY].mutation(api.auth.refreshSession, { refreshToken: conc[i].refreshToken }));
  });

  // validateSession (a query: one index read).
  const validateConc = await run(N, CONCURRENCY, async (i) => {
    const r = await clients[i % CONCURRENCY].query(api.auth.validateSession, { token: conc[i % conc.length].token });
    if (!r.valid) throw new Error("a live session did not validate");
  });

  const result = {
    benchmark: "sessions",
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAvg1m: round(loadavg()[0]) },
    backend: "embedded (child process), ConvexHttpClient over loopback HTTP",
    n: N,
    concurrency: CONCURRENCY,
    createSession: { sequential: createSeq, concurrent: createConc },
    refreshSession: { sequential: refreshSeq, concurrent: refreshConc },
    validateSession: { concurrent: validateConc },
  };
  console.log(`sessions benchmark: n=${N}, concurrency=${CONCURRENCY}, ${cpus().length} cpus, load ${round(loadavg()[0])}`);
  const line = (name: string, r: { perSecond: number; p50Ms: number; p99Ms: number }) =>
    console.log(`  ${name.padEnd(34)} ${String(r.perSecond).padStart(8)} /s   p50 ${r.p50Ms} ms   p99 ${r.p99Ms} ms`);
  line("createSession (sequential)", createSeq);
  line(`createSession (${CONCURRENCY} concurrent)`, createConc);
  line("refreshSession (sequential)", refreshSeq);
  line(`refreshSession (${CONCURRENCY} concurrent)`, refreshConc);
  line(`validateSession (${CONCURRENCY} concurrent)`, validateConc);
  const out = join(dirname(fileURLToPath(import.meta.url)), "results", "sessions.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  console.log(`  wrote ${out}`);
} finally {
  await b.stop();
}
