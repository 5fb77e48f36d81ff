// The sync socket, as an attacker and as a paginating client would use it:
// - caps per socket (query-set size, in-flight requests, message size): the
//   offending socket gets a clear FatalError and is closed; others carry on;
// - pagination journals: a live page keeps its end while rows arrive, so no
//   row falls between two pages; a journal is handed back on re-add, and a
//   forged one is ignored.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { anyApi } from "convex/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAX_INFLIGHT_PER_SOCKET, MAX_MESSAGE_BYTES, MAX_QUERIES_PER_SOCKET } from "../../local/sync";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { RawSync, type ServerMessage } from "../helpers/rawsync";

const api = anyApi;
const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture", "convex");

let b: SpawnedBackend;
const sockets: RawSync[] = [];
beforeAll(async () => {
  b = await spawnBackend({
    convexDir: fixtureDir,
    env: { FIXTURE_ES_JWKS_B64: Buffer.from('{"keys":[]}').toString("base64"), FIXTURE_RS_JWKS: '{"keys":[]}' },
  });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await b?.stop();
});

async function open() {
  const s = await RawSync.open(b.url);
  sockets.push(s);
  return s;
}

const adds = (from: number, count: number, udfPath = "fixture:byN") =>
  Array.from({ length: count }, (_, i) => ({ type: "Add", queryId: from + i, udfPath, args: [{ n: -1 - ((from + i) % 7) }] }));

/** Another client keeps being served. */
async function othersStillServed() {
  expect(await b.httpClient().query(api.fixture.byN, { n: 12345 })).toEqual([]);
}

describe("caps per socket", () => {
  test(`8,000 queries in one frame: FatalError TooManyQueries, that socket closed, nothing run`, async () => {
    const s = await open();
    s.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: adds(0, 8000) });
    const fatal = await s.next((m) => m.type === "FatalError");
    expect(fatal.error).toMatch(/TooManyQueries.*at most 1000/);
    expect((await s.closed).code).toBe(1008);
    expect(s.messages.filter((m) => m.type === "Transition")).toEqual([]);
    await othersStillServed();
  });

  test(`${MAX_QUERIES_PER_SOCKET} queries are served; one more ends the socket`, async () => {
    const s = await open();
    s.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: adds(0, MAX_QUERIES_PER_SOCKET) });
    const t = await s.next((m) => m.type === "Transition" && m.endVersion.querySet === 1, 60_000);
    expect(t.modifications.filter((m: ServerMessage) => m.type === "QueryUpdated")).toHaveLength(MAX_QUERIES_PER_SOCKET);
    // Removing one and adding another stays within the cap...
    s.send({
      type: "ModifyQuerySet",
      baseVersion: 1,
      newVersion: 2,
      modifications: [{ type: "Remove", queryId: 0 }, ...adds(MAX_QUERIES_PER_SOCKET, 1)],
    });
    await s.next((m) => m.type === "Transition" && m.endVersion.querySet === 2);
    // ...one more is over it.
    s.send({ type: "ModifyQuerySet", baseVersion: 2, newVersion: 3, modifications: adds(MAX_QUERIES_PER_SOCKET + 1, 1) });
    expect((await s.next((m) => m.type === "FatalError")).error).toMatch(/TooManyQueries/);
    await s.closed;
    await othersStillServed();
  }, 90_000);

  test(`more than ${MAX_INFLIGHT_PER_SOCKET} requests in flight: FatalError, that socket closed`, async () => {
    const s = await open();
    for (let i = 0; i <= MAX_INFLIGHT_PER_SOCKET; i++) s.send({ type: "Action", requestId: i, udfPath: "fixture:hold", args: [{}] });
    const fatal = await s.next((m) => m.type === "FatalError");
    expect(fatal.error).toMatch(/TooManyInflightActionsForSingleClient: only up to 1000/);
    await s.closed;
    // The held actions were the only ones in flight: 1000 of them, not 1001
    // (they reach their handler asynchronously: release until all 1000 have).
    let released = 0;
    for (let i = 0; i < 200 && released < MAX_INFLIGHT_PER_SOCKET; i++) {
      released += (await b.httpClient().action(api.fixture.release, {})) as number;
      if (released < MAX_INFLIGHT_PER_SOCKET) await new Promise((r) => setTimeout(r, 50));
    }
    expect(released).toBe(MAX_INFLIGHT_PER_SOCKET);
    await new Promise((r) => setTimeout(r, 200));
    expect(await b.httpClient().action(api.fixture.release, {})).toBe(0);
    await othersStillServed();
  });

  test("a message over the size cap closes that socket (1009)", async () => {
    const s = await open();
    s.send({ type: "Event", eventType: "x", event: "y".repeat(MAX_MESSAGE_BYTES) });
    expect((await s.closed).code).toBe(1009);
    await othersStillServed();
  });
});

describe("pagination journals", () => {
  const values = (t: ServerMessage, queryId: number) =>
    t.modifications.find((m: ServerMessage) => m.queryId === queryId && m.type === "QueryUpdated")?.value as
      | { page: number[]; continueCursor: string; isDone: boolean }
      | undefined;

  test("a live page keeps its end cursor as rows arrive: no row falls between two pages", async () => {
    const tag = `pg-${Date.now()}`;
    const http = b.httpClient();
    for (const n of [10, 20, 30, 40, 50, 60]) await http.mutation(api.fixture.add, { text: `p${n}`, n, tag });
    const c = b.client();
    const page1: Array<{ page: number[]; continueCursor: string }> = [];
    const first = new Promise<void>((resolve) =>
      c.onUpdate(api.fixture.pageByTag, { tag, paginationOpts: { numItems: 3, cursor: null } }, (v) => {
        page1.push(v as { page: number[]; continueCursor: string });
        resolve();
      }),
    );
    await first;
    expect(page1[0]!.page).toEqual([10, 20, 30]);
    const page2 = (await c.query(api.fixture.pageByTag, {
      tag,
      paginationOpts: { numItems: 3, cursor: page1[0]!.continueCursor },
    })) as { page: number[] };
    expect(page2.page).toEqual([40, 50, 60]);

    await http.mutation(api.fixture.add, { text: "p15", n: 15, tag });
    while (page1.length < 2) await new Promise((r) => setTimeout(r, 20));
    // Page 1 grew (it pages up to its journal's end cursor) instead of pushing 30 out.
    expect(page1[1]!.page).toEqual([10, 15, 20, 30]);
    expect(page1[1]!.continueCursor).toBe(page1[0]!.continueCursor);
  });

  test("the journal comes back on re-add and keeps the page; a forged one is ignored", async () => {
    const tag = `pj-${Date.now()}`;
    const http = b.httpClient();
    for (const n of [1, 2, 3, 4, 5]) await http.mutation(api.fixture.add, { text: `j${n}`, n, tag });
    const args = [{ tag, paginationOpts: { numItems: 2, cursor: null } }];
    const s1 = await open();
    s1.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 1, udfPath: "fixture:pageByTag", args }] });
    const t1 = await s1.next((m) => m.type === "Transition" && values(m, 1) !== undefined);
    expect(values(t1, 1)!.page).toEqual([1, 2]);
    const journal = t1.modifications[0].journal as string;
    expect(typeof journal).toBe("string");

    await http.mutation(api.fixture.add, { text: "j1.5", n: 1.5, tag });
    // A reconnecting client re-adds the query with its journal: same end, the new row inside.
    const s2 = await open();
    s2.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 1, udfPath: "fixture:pageByTag", args, journal }] });
    expect(values(await s2.next((m) => m.type === "Transition" && values(m, 1) !== undefined), 1)!.page).toEqual([1, 1.5, 2]);

    // A forged journal ("page to the very end") is ignored: numItems holds.
    const forged = `${journal.split(".")[0]}._end_cursor`;
    const s3 = await open();
    s3.send({
      type: "ModifyQuerySet",
      baseVersion: 0,
      newVersion: 1,
      modifications: [{ type: "Add", queryId: 1, udfPath: "fixture:pageByTag", args, journal: forged }],
    });
    expect(values(await s3.next((m) => m.type === "Transition" && values(m, 1) !== undefined), 1)!.page).toEqual([1, 1.5]);
  });
});
