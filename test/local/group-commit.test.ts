// Group commit (local/store.ts Journal, local/engine.ts): many commits share
// one fdatasync, and nothing shows a commit before its record is on disk — not
// its reply, not the reply to a caller who read it, not a live update.
// Counts fsyncs and durable records; no timings.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { startBackend, type Backend } from "../../local/backend";
import { Journal, readStore, type JournalRecord } from "../../local/store";

const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture", "convex");
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-group-"));
const record = (i: number): JournalRecord => ({ ts: String(i), n: 1, c: i, w: [[`doc${i}`, { i }]] });
const nextCheck = () => new Promise<void>((r) => setImmediate(r));

describe("Journal", () => {
  test("records appended in one tick share one fdatasync and all replay", async () => {
    const dir = tmp();
    const j = new Journal(dir);
    const waits = [];
    for (let i = 1; i <= 50; i++) {
      j.append(record(i), BigInt(i));
      waits.push(j.whenDurable(BigInt(i)));
    }
    expect(waits.every((w) => w !== null)).toBe(true);
    expect(j.stats.syncs).toBe(0);
    await Promise.all(waits);
    expect(j.stats).toEqual({ records: 50, durableRecords: 50, syncs: 1 });
    expect(j.whenDurable(50n)).toBeNull();
    j.close();
    expect(readStore(dir, quiet).journalRecords).toBe(50);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("commits made while a flush is on the disk wait for, and share, the next one", async () => {
    const dir = tmp();
    const j = new Journal(dir);
    j.append(record(1), 1n);
    const first = j.whenDurable(1n)!;
    await nextCheck(); // the flush started (its write is done, its fdatasync is running)
    for (let i = 2; i <= 31; i++) j.append(record(i), BigInt(i));
    const rest = j.whenDurable(31n)!;
    let firstDone = false;
    await first.then(() => (firstDone = true));
    // The first fdatasync covered only the record written before it began.
    expect(j.stats).toEqual({ records: 31, durableRecords: 1, syncs: 1 });
    expect(j.whenDurable(2n)).not.toBeNull();
    await rest;
    expect(firstDone).toBe(true);
    expect(j.stats).toEqual({ records: 31, durableRecords: 31, syncs: 2 });
    j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("engine: nothing shows a commit before it is durable", () => {
  let b: Backend;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = tmp();
    b = await startBackend({ port: 0, sitePort: 0, dataDir, convexDir: fixtureDir, logger: quiet });
  });
  afterAll(async () => {
    await b?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Index of the journal record that wrote document `id` (records are lines, in order). */
  function recordIndexOf(id: string): number {
    const lines = fs.readFileSync(path.join(dataDir, "journal.log"), "utf8").split("\n");
    return lines.findIndex((l) => l.includes(`"${id}"`));
  }

  test("concurrent mutations: each reply, and each reply of a query that read them, comes after its record's fsync; fewer fsyncs than commits", async () => {
    const journal = b.engine.journal!;
    const before = { ...journal.stats };
    const listenerSawUndurable: bigint[] = [];
    const off = b.engine.onCommit((info) => {
      if (journal.whenDurable(info.ts) !== null) listenerSawUndurable.push(info.ts);
    });
    const N = 24;
    // Hold the first fdatasync until all N commits are in the journal, so the
    // count below does not depend on how fast this machine's disk is: the
    // commits must keep landing while a flush is on the disk, and share the next.
    const realSync = fs.fdatasync;
    let held = 0;
    const sync = vi.spyOn(fs, "fdatasync").mockImplementation(((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      const go = () => (journal.stats.records - before.records >= N ? realSync(fd, cb) : setImmediate(go));
      if (held++ === 0) go();
      else realSync(fd, cb);
    }) as typeof fs.fdatasync);
    const violations: string[] = [];
    const calls = Array.from({ length: N }, async (_, i) => {
      const { value } = await b.engine.call("mutation", "fixture:add", { text: `gc-${i}`, n: 7000 + i });
      const id = value as string;
      const at = recordIndexOf(id);
      if (at < 0 || at >= journal.stats.durableRecords) violations.push(`reply for ${id} before its record was durable`);
      return id;
    });
    // A reader queued behind the writers sees their documents: its reply must wait too.
    const reader = b.engine.call("query", "fixture:list", {}).then(({ value }) => {
      for (const doc of value as Array<{ _id: string; text: string }>) {
        if (!doc.text.startsWith("gc-")) continue;
        const at = recordIndexOf(doc._id);
        if (at < 0 || at >= journal.stats.durableRecords) violations.push(`query reply showed ${doc._id} before it was durable`);
      }
    });
    await Promise.all([...calls, reader]);
    sync.mockRestore();
    off();
    expect(violations).toEqual([]);
    expect(listenerSawUndurable).toEqual([]);
    const commits = journal.stats.records - before.records;
    const syncs = journal.stats.syncs - before.syncs;
    expect(commits).toBeGreaterThanOrEqual(N);
    // Group commit: the commits made while the first fsync was on the disk
    // shared the next one (a fsync per commit would be 24).
    expect(syncs).toBeLessThanOrEqual(3);
  });
});
