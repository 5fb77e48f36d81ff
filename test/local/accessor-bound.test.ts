// The engine's accessor cache (local/engine.ts `accessor()`) under an
// attacker who needs no credentials: every distinct User-Agent header is a
// new caller. What the cache holds stays small however long the headers are.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startFixtureBackend } from "../helpers/inprocess";
import type { Backend } from "../../local/backend";

let b: { backend: Backend; stop(): Promise<void> };
beforeAll(async () => {
  b = await startFixtureBackend("accessor-bound");
});
afterAll(async () => {
  await b?.stop();
});

const seenBy = (userAgent: string) =>
  fetch(`${b.backend.url}/api/mutation`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": userAgent },
    body: JSON.stringify({ path: "fixture:seenBy", args: [{}], format: "convex_encoded_json" }),
  }).then(async (r) => ((await r.json()) as { value: { userAgent: string } }).value.userAgent);

test("1100 distinct 12 KB user agents: each request sees its own, and the cache keeps none of them", async () => {
  const long = (i: number) => `${i}-${"x".repeat(12_000)}`;
  for (let i = 0; i < 1100; i += 25) {
    const batch = Array.from({ length: 25 }, (_, j) => long(i + j));
    expect(await Promise.all(batch.map(seenBy))).toEqual(batch);
  }
  // Unbounded by size, 1000 entries of 12 KB keys (~12 M characters) would stay pinned.
  expect(b.backend.engine.accessorCache().chars).toBeLessThan(1_000_000);
});

test("an ordinary caller is still served from the cache: its accessor is built once", async () => {
  const before = b.backend.engine.accessorCache().built;
  for (let i = 0; i < 3; i++) expect(await seenBy("ordinary-agent/1.0")).toBe("ordinary-agent/1.0");
  expect(b.backend.engine.accessorCache().built - before).toBe(1);
});
