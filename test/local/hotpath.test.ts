// Work done once, not on every call or for every subscriber (steps are
// counted; timings are in bench/local.ts).
//
// Live-query fan-out (local/sync.ts, local/livequeries.ts): many subscribers
// of one query share one run per commit, and what follows a run is done once
// for all of them too — the commit's read-set check and the result's wire
// encoding — not once per subscriber (counted in sync.work).
//
// The fixture's cron commits once a second, so the counts are bounded by the
// commits that landed rather than fixed; the bounds still fail when the work
// is done per subscriber (SUBSCRIBERS times per run or commit).
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Backend } from "../../local/backend";
import { startFixtureBackend } from "../helpers/inprocess";

const api = anyApi;
const SUBSCRIBERS = 20;
let b: Backend;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ backend: b, stop } = await startFixtureBackend("hotpath"));
});
afterAll(async () => {
  await stop?.();
});

/** Resolves once every subscriber's latest result satisfies `ok`. */
function allSee(latest: Array<unknown[] | undefined>, ok: (v: unknown[]) => boolean, wake: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (latest.every((v) => v !== undefined && ok(v))) {
        wake.delete(check);
        resolve();
      }
    };
    wake.add(check);
    check();
  });
}

test(`${SUBSCRIBERS} subscribers of one query: one encoding per run and one read-set check per run and commit`, async () => {
  const n = 424_242; // a bucket no other test writes
  const work = b.sync.work;
  work.renders = 0;
  const latest: Array<unknown[] | undefined> = new Array(SUBSCRIBERS).fill(undefined);
  const wake = new Set<() => void>();
  const clients = Array.from({ length: SUBSCRIBERS }, () => new ConvexClient(b.url, { logger: false }));
  clients.forEach((c, i) =>
    c.onUpdate(api.fixture.byN, { n }, (v: unknown[]) => {
      latest[i] = v;
      for (const w of [...wake]) w();
    }),
  );
  try {
    await allSee(latest, (v) => v.length === 0, wake);
    const rendersToSubscribe = work.renders;
    expect(rendersToSubscribe).toBeGreaterThanOrEqual(1);
    work.commits = 0;
    work.readSetChecks = 0;

    await new ConvexHttpClient(b.url, { logger: false }).mutation(api.fixture.add, { text: "fan", n });
    await allSee(latest, (v) => v.length === 1 && v[0] === "fan", wake);

    const runsAfterWrite = work.renders - rendersToSubscribe;
    // What makes the bounds below tell one-per-run from one-per-subscriber.
    expect(work.commits).toBeLessThan(SUBSCRIBERS);
    expect(work.renders).toBeLessThan(SUBSCRIBERS);
    // A shared run is per commit ts: at most one run (and encoding) for the
    // ts current when counting began and one per commit since.
    expect(runsAfterWrite).toBeGreaterThanOrEqual(1);
    expect(runsAfterWrite).toBeLessThanOrEqual(work.commits + 1);
    // Each subscriber holds the read set of one of the runs so far: per commit,
    // one check per distinct read set, not one per subscriber.
    expect(work.readSetChecks).toBeLessThanOrEqual(work.commits * work.renders);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

test("a function's argument validator is exported and parsed once, not on every call", async () => {
  const mod = await b.engine.loadModule("fixture");
  const fn = mod!.add as { exportArgs(): string };
  const original = fn.exportArgs;
  let exports = 0;
  fn.exportArgs = function (this: unknown) {
    exports++;
    return original.call(this);
  };
  const CALLS = 5;
  try {
    const http = new ConvexHttpClient(b.url, { logger: false });
    for (let i = 0; i < CALLS; i++) await http.mutation(api.fixture.add, { text: `v${i}`, n: 7 });
  } finally {
    fn.exportArgs = original;
  }
  // convex-test exports it once per call to validate; the backend's own
  // argument check (local/argcheck.ts) adds at most one export in all.
  expect(exports).toBeGreaterThanOrEqual(CALLS);
  expect(exports).toBeLessThanOrEqual(CALLS + 1);
});
