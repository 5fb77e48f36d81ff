// One snapshot per Transition (local/snapshot.ts): every result a Transition
// carries was computed on the same committed state, as on Convex. The test
// forces the worst interleaving deterministically: while the socket re-runs
// the first of its two queries, another client's mutation is started (the
// backend runs in this process, so the test can step in between).
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Backend } from "../../local/backend";
import { startFixtureBackend } from "../helpers/inprocess";
import type { Engine } from "../../local/engine";
import { RawSync, type ServerMessage } from "../helpers/rawsync";

const api = anyApi;
let b: Backend;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ backend: b, stop } = await startFixtureBackend("snapshot"));
});
afterAll(async () => {
  await stop?.();
});

test("a write that lands while a Transition is computed never splits it", async () => {
  const http = new ConvexHttpClient(b.url, { logger: false });
  const a = (await http.mutation(api.fixture.add, { text: "a", n: 0 })) as string;
  const c = (await http.mutation(api.fixture.add, { text: "c", n: 0 })) as string;

  const s = await RawSync.open(b.url);
  s.send({
    type: "ModifyQuerySet",
    baseVersion: 0,
    newVersion: 1,
    modifications: [
      { type: "Add", queryId: 1, udfPath: "fixture:get", args: [{ id: a }] },
      { type: "Add", queryId: 2, udfPath: "fixture:get", args: [{ id: c }] },
    ],
  });
  await s.next((m) => m.type === "Transition" && m.modifications.length === 2);

  // Step in: right after the socket re-runs query 1, another client writes
  // both documents — three times in a row, so the socket's optimistic passes
  // conflict and it falls back to a snapshot round (local/livequeries.ts).
  const engine = b.engine as Engine & { call: Engine["call"] };
  const call = engine.call.bind(engine);
  const writes = [999, 1000, 1001];
  const injected: Array<Promise<unknown>> = [];
  engine.call = (async (kind, udfPath, args, opts, readSet) => {
    const r = await call(kind, udfPath, args, opts, readSet);
    if (injected.length < writes.length && readSet && udfPath === "fixture:get" && args.id === a) {
      // (Over HTTP: a request of its own, not a continuation of this one.)
      const n = writes[injected.length]!;
      const write = new ConvexHttpClient(b.url, { logger: false }).mutation(api.fixture.setBoth, { a, b: c, n });
      injected.push(write);
      // Give it every chance to commit before query 2 runs.
      await Promise.race([write, new Promise((r) => setTimeout(r, 300))]);
    }
    return r;
  }) as Engine["call"];
  try {
    await http.mutation(api.fixture.setBoth, { a, b: c, n: 1 });
    await s.next(
      (m) => m.type === "Transition" && (m.modifications as ServerMessage[]).some((u) => u.type === "QueryUpdated" && u.value?.n === 1001),
    );
    await Promise.all(injected);
  } finally {
    engine.call = call;
  }

  // Replay the Transitions as the client applies them: both documents always agree.
  const latest = new Map<number, number>();
  const seen: string[] = [];
  for (const t of s.messages.filter((m) => m.type === "Transition")) {
    for (const m of t.modifications as ServerMessage[]) if (m.type === "QueryUpdated") latest.set(m.queryId, m.value.n);
    seen.push(`${latest.get(1)}/${latest.get(2)}`);
    expect(latest.get(1), `after each Transition: ${seen.join(" ")}`).toBe(latest.get(2));
  }
  expect(injected).toHaveLength(3);
  expect(seen.at(-1)).toBe("1001/1001");
  s.close();
});
