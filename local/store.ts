/**
 * Durable storage for the embedded backend: a snapshot plus an append-only
 * journal of committed top-level transactions.
 *
 *   <dataDir>/snapshot.jsonl  header line, one `[id, doc]` line per document,
 *                             trailer line; replaced atomically (tmp+rename)
 *   <dataDir>/journal.log     one record per commit: `<crc32 hex> <json>\n`
 *
 * Commits are group-committed (Journal below): records are buffered and one
 * fdatasync covers every commit made while the previous one was on the disk.
 * Nothing that shows a commit — the reply to its caller, a live-query update,
 * the reply to another caller that read it, an action's outgoing fetch — leaves
 * the process before its record is on disk (engine.ts waits on `whenDurable`). At start the journal is replayed over the snapshot and
 * compacted into a fresh snapshot with an empty journal. A torn or corrupt
 * record ends replay: everything before it is kept, the rest is dropped and
 * logged; start-up never fails over it.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { convexToJson, jsonToConvex, type Value } from "convex/values";
import { isCounterId } from "./ids.js";

export type Doc = Record<string, Value> & { _id: string; _creationTime: number };

export type Counters = {
  nextDocId: number;
  lastCreationTime: number;
  lastCommitTs: bigint;
};

export type Restored = Counters & {
  documents: Map<string, Doc>;
  journalRecords: number;
  tornBytes: number;
};

type Logger = { info(msg: string): void; warn(msg: string): void };

const SNAPSHOT = "snapshot.jsonl";
const JOURNAL = "journal.log";
const FORMAT = 1;

function crcHex(s: string): string {
  return zlib.crc32(s).toString(16).padStart(8, "0");
}

/** Reads snapshot + journal. Never throws over a bad journal tail. */
export function readStore(dataDir: string, log: Logger): Restored {
  const documents = new Map<string, Doc>();
  const counters: Counters = { nextDocId: 10000, lastCreationTime: 0, lastCommitTs: 0n };
  const snapFile = path.join(dataDir, SNAPSHOT);
  if (fs.existsSync(snapFile)) {
    const text = fs.readFileSync(snapFile, "utf8");
    const lines = text.split("\n");
    const header = JSON.parse(lines[0]!) as { v: number; nextDocId: number; lastCreationTime: number; lastCommitTs: string };
    if (header.v !== FORMAT) throw new Error(`${snapFile}: unknown format ${header.v}`);
    counters.nextDocId = header.nextDocId;
    counters.lastCreationTime = header.lastCreationTime;
    counters.lastCommitTs = BigInt(header.lastCommitTs);
    let complete = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === "") continue;
      const parsed = JSON.parse(line) as [string, unknown] | { end: number };
      if (!Array.isArray(parsed)) {
        if (parsed.end !== documents.size) throw new Error(`${snapFile}: expected ${parsed.end} documents, found ${documents.size}`);
        complete = true;
        break;
      }
      documents.set(parsed[0], jsonToConvex(parsed[1] as never) as Doc);
    }
    // The snapshot is only ever installed by an atomic rename after fsync, so
    // an incomplete one means the disk lost data: refuse rather than guess.
    if (!complete) throw new Error(`${snapFile} is incomplete (no trailer); restore it from a backup`);
  }

  let journalRecords = 0;
  let tornBytes = 0;
  const jFile = path.join(dataDir, JOURNAL);
  if (fs.existsSync(jFile)) {
    const buf = fs.readFileSync(jFile);
    let pos = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(0x0a, pos);
      const end = nl === -1 ? buf.length : nl;
      const line = buf.subarray(pos, end).toString("utf8");
      let record: JournalRecord | null = null;
      if (nl !== -1 && line.length > 9 && line[8] === " ") {
        const json = line.slice(9);
        if (crcHex(json) === line.slice(0, 8)) {
          try {
            record = JSON.parse(json) as JournalRecord;
          } catch {
            record = null;
          }
        }
      }
      if (record === null) {
        tornBytes = buf.length - pos;
        log.warn(
          `journal: torn or corrupt record at byte ${pos} (${tornBytes} bytes dropped); ` +
            `recovered ${journalRecords} record(s) before it`,
        );
        break;
      }
      const ts = BigInt(record.ts);
      for (const [id, doc] of record.w) {
        if (doc === null) documents.delete(id);
        else documents.set(id, jsonToConvex(doc as never) as Doc);
      }
      if (ts > counters.lastCommitTs) counters.lastCommitTs = ts;
      counters.nextDocId = Math.max(counters.nextDocId, record.n);
      counters.lastCreationTime = Math.max(counters.lastCreationTime, record.c);
      journalRecords++;
      pos = end + 1;
    }
  }
  // Belt and braces: ids and creation times never go backwards, whatever the
  // records said.
  for (const [id, doc] of documents) {
    // (Only an old data dir's counter ids carry a count; see ids.ts.)
    const m = isCounterId(id) ? /^[0-9]+/.exec(id) : null;
    if (m) counters.nextDocId = Math.max(counters.nextDocId, Number(m[0]) + 1);
    if (doc._creationTime > counters.lastCreationTime) counters.lastCreationTime = doc._creationTime;
  }
  return { documents, ...counters, journalRecords, tornBytes };
}

export type JournalRecord = {
  ts: string;
  n: number;
  c: number;
  w: Array<[string, unknown]>;
};

function fsyncDir(dir: string) {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not supported everywhere */
  }
}

/** Writes a fresh snapshot atomically, then empties the journal. */
export function compact(dataDir: string, documents: Iterable<[string, Doc]>, counters: Counters): number {
  const snapFile = path.join(dataDir, SNAPSHOT);
  const tmp = `${snapFile}.tmp`;
  const fd = fs.openSync(tmp, "w", 0o600);
  let count = 0;
  try {
    const header = {
      v: FORMAT,
      nextDocId: counters.nextDocId,
      lastCreationTime: counters.lastCreationTime,
      lastCommitTs: counters.lastCommitTs.toString(),
    };
    let chunk = JSON.stringify(header) + "\n";
    for (const [id, doc] of documents) {
      chunk += JSON.stringify([id, convexToJson(doc as Value)]) + "\n";
      count++;
      if (chunk.length > 1 << 20) {
        fs.writeSync(fd, chunk);
        chunk = "";
      }
    }
    chunk += JSON.stringify({ end: count }) + "\n";
    fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, snapFile);
  fsyncDir(dataDir);
  // Only now is it safe to drop the journal: the snapshot holds everything.
  // (Replaying an old journal over a newer snapshot would also be harmless:
  // records hold whole documents, so the last write wins either way.)
  const jfd = fs.openSync(path.join(dataDir, JOURNAL), "w", 0o600);
  fs.fsyncSync(jfd);
  fs.closeSync(jfd);
  fsyncDir(dataDir);
  return count;
}

/**
 * The append side of the journal, with group commit: a commit appends its
 * record to a buffer; one flush at a time writes everything buffered and
 * fdatasyncs it (off the event loop), so the commits that arrive while a
 * flush is on the disk share the next one. `whenDurable(ts)` resolves when
 * every record up to commit `ts` is on disk: callers hold anything that could
 * show such a commit (a reply, a live update) until then.
 */
export class Journal {
  private fd: number;
  private buffered: string[] = [];
  private durableTs = 0n;
  private appendedTs = 0n;
  private flushing = false;
  private failed: Error | null = null;
  private waiters: Array<{ ts: bigint; resolve: () => void; reject: (e: Error) => void }> = [];
  /** Records appended, records on disk, fdatasyncs made (tests count them). */
  readonly stats = { records: 0, durableRecords: 0, syncs: 0 };
  /** Called after each flush with the newest commit now durable. */
  onDurable: (ts: bigint) => void = () => {};
  /** Called once if the journal cannot be written: nothing after it may be acknowledged. */
  onError: (err: Error) => void = (err) => {
    throw err;
  };

  constructor(readonly dataDir: string) {
    this.fd = fs.openSync(path.join(dataDir, JOURNAL), "a", 0o600);
  }

  /** Buffers one record (commit `ts`, increasing); a flush is on its way. */
  append(record: JournalRecord, ts: bigint): void {
    const json = JSON.stringify(record);
    this.buffered.push(`${crcHex(json)} ${json}\n`);
    this.appendedTs = ts;
    this.stats.records++;
    if (!this.flushing) {
      this.flushing = true;
      // Let the transactions already runnable commit too: they join this flush.
      setImmediate(() => this.flush());
    }
  }

  /**
   * Resolves once every commit up to `ts` is on disk; null when it already is
   * (commits before this journal was opened were read from disk).
   */
  whenDurable(ts: bigint): Promise<void> | null {
    if (this.failed) return Promise.reject(this.failed);
    if (ts > this.appendedTs) ts = this.appendedTs;
    if (ts <= this.durableTs) return null;
    return new Promise((resolve, reject) => this.waiters.push({ ts, resolve, reject }));
  }

  private flush(): void {
    if (this.buffered.length === 0 || this.failed) {
      this.flushing = false;
      return;
    }
    const text = this.buffered.join("");
    const count = this.buffered.length;
    const upTo = this.appendedTs;
    this.buffered = [];
    try {
      fs.writeSync(this.fd, text);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    fs.fdatasync(this.fd, (err) => {
      if (err) return this.fail(err);
      this.stats.syncs++;
      this.stats.durableRecords += count;
      this.durableTs = upTo;
      // Waiters come in commit order (each waits for the newest commit it could see).
      let n = 0;
      while (n < this.waiters.length && this.waiters[n]!.ts <= upTo) n++;
      const ready = this.waiters.splice(0, n);
      this.onDurable(upTo);
      for (const w of ready) w.resolve();
      this.flush();
    });
  }

  private fail(err: Error): void {
    this.failed = err;
    this.flushing = false;
    for (const w of this.waiters.splice(0)) w.reject(err);
    this.onError(err);
  }

  /** Resolves when everything appended so far is on disk. */
  async drain(): Promise<void> {
    const w = this.whenDurable(this.appendedTs);
    if (w) await w;
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}

export function encodeDoc(doc: Doc | null): unknown {
  return doc === null ? null : convexToJson(doc as Value);
}

/** Takes an exclusive lock on the data dir (a pid file); stale locks are taken over. */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, "LOCK");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, "wx", 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => {
        try {
          if (fs.readFileSync(file, "utf8") === String(process.pid)) fs.unlinkSync(file);
        } catch {
          /* gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(fs.readFileSync(file, "utf8"));
      let alive = false;
      if (pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === "EPERM";
        }
      }
      if (alive) throw new Error(`data dir ${dataDir} is in use by process ${pid}`);
      fs.unlinkSync(file); // stale (e.g. after kill -9)
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}
