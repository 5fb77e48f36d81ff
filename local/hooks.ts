/**
 * The hooks on convex-test's DatabaseFake and transaction manager, one
 * function each (why each exists: engine.ts's header). They run with `this`
 * = the hooked object and reach the engine through `HookHost`.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import { newDocumentId, tableOf } from "./ids.js";
import { isWellFormedCursor, paginateWithJournal } from "./pagination.js";
import type { Change, CommitInfo, ReadSet } from "./readset.js";
import type { SnapshotGate } from "./snapshot.js";
import { encodeDoc, type Doc, type Journal } from "./store.js";
import type { TableIndex } from "./tables.js";

type Any = any;

/** What the hooks need of the engine. */
export interface HookHost {
  readonly db: Any;
  readonly tm: Any;
  readonly readTracker: AsyncLocalStorage<ReadSet>;
  readonly gate: SnapshotGate;
  readonly tables: TableIndex;
  journal: Journal | null;
  onFatal(err: Error): void;
  /** Tells the commit listeners (live queries) what a commit changed. */
  emitCommit(info: CommitInfo): void;
}

/** Shared by the two scan hooks: the ids `_resolveQuerySource` picked for the scan it starts. */
type ScanState = { hint: { table: string; ids: ReadonlySet<string> } | null; inResolve: boolean };

export function installHooks(host: HookHost) {
  const origGet = host.db.get;
  const scan: ScanState = { hint: null, inResolve: false };
  hookGenerateId(host.db);
  hookGet(host, origGet);
  hookIterateDocs(host, origGet, scan);
  hookResolveQuerySource(host, scan);
  hookPaginate(host);
  hookBegin(host);
  hookCommit(host);
}

/** Unguessable ids instead of convex-test's counter (see ids.ts). */
function hookGenerateId(db: Any) {
  db._generateId = function (table: string) {
    return newDocumentId(table, (id) => {
      if (this._documents[id] !== undefined) return true;
      return (this._writes as Record<string, unknown>[]).some((level) => level[id] !== undefined);
    });
  };
}

/** Records single-document reads of live queries. */
function hookGet(host: HookHost, origGet: Any) {
  host.db.get = function (tableName: string | undefined, id: string) {
    host.readTracker.getStore()?.ids.add(id);
    return origGet.call(this, tableName, id);
  };
}

/** Walks a per-table id set (or the bucket `_resolveQuerySource` chose), not every document. */
function hookIterateDocs(host: HookHost, origGet: Any, scan: ScanState) {
  // For benchmarks only: measure convex-test's own full scan.
  const upstreamScan = process.env.KEYHOLE_BENCH_UPSTREAM_SCAN === "1";
  const origIterate = host.db._iterateDocs;
  host.db._iterateDocs = function (tableName: string, callback: (doc: Doc) => void) {
    const rs = host.readTracker.getStore();
    if (rs && !scan.inResolve) rs.tables.add(tableName);
    if (upstreamScan) return origIterate.call(this, tableName, callback);
    const base = scan.hint && scan.hint.table === tableName ? scan.hint.ids : host.tables.ids(tableName);
    // Snapshot first: callbacks never write, but be safe against mutation.
    const ids = [...base];
    const seen = base;
    for (const level of this._writes as Record<string, unknown>[]) {
      for (const id of Object.keys(level)) {
        if (!seen.has(id) && tableOf(id) === tableName) ids.push(id);
      }
    }
    const uniq = ids.length === base.size ? ids : [...new Set(ids)];
    for (const id of uniq) {
      const doc = origGet.call(this, tableName, id);
      if (doc !== null) callback(doc);
    }
  };
}

/**
 * For an `IndexRange` whose first bound is `Eq`, picks the bucket of that
 * index's first field (the rest of the range, sorting and filters still run
 * upstream, unchanged); records what a live query read.
 */
function hookResolveQuerySource(host: HookHost, scan: ScanState) {
  const origResolve = host.db._resolveQuerySource;
  host.db._resolveQuerySource = function (query: Any) {
    const rs = host.readTracker.getStore();
    const source = query.source;
    scan.hint = null;
    if (source.type === "IndexRange") {
      const [table, indexName] = String(source.indexName).split(".") as [string, string];
      rs?.ranges.push({ table, range: source.range });
      const ids = host.tables.candidates(table, indexName, source.range);
      if (ids) scan.hint = { table, ids };
    } else {
      const table = source.type === "FullTableScan" ? source.tableName : String(source.indexName).split(".")[0];
      rs?.tables.add(table);
    }
    scan.inResolve = true;
    try {
      return origResolve.call(this, query);
    } finally {
      scan.inResolve = false;
      scan.hint = null;
    }
  };
}

/** Convex's pagination journals for live queries (pagination.ts), and malformed cursors refused. */
function hookPaginate(host: HookHost) {
  // convex-test JSON.parses a client's cursor and crashes on garbage; refuse
  // it the way the real backend does, as an invalid cursor.
  const origPaginate = host.db.paginate;
  host.db.paginate = function (opts: { cursor: unknown; endCursor?: unknown }) {
    for (const c of [opts.cursor, opts.endCursor]) {
      if (c !== null && c !== undefined && !isWellFormedCursor(c)) {
        throw new Error("InvalidCursor: the pagination cursor is malformed; pass null or a continueCursor you were given");
      }
    }
    const journal = host.readTracker.getStore()?.journal;
    return paginateWithJournal(journal, opts, (o) => origPaginate.call(this, o));
  };
}

/**
 * One snapshot per Transition (snapshot.ts): a top-level transaction begins
 * only when no one else holds the gate, and takes convex-test's lock in the
 * same synchronous step.
 */
function hookBegin(host: HookHost) {
  const { tm, gate } = host;
  const origBegin = tm.begin;
  tm.begin = function (isNested: boolean, limits: unknown) {
    const free = () => !gate.mustWait() && this._waitOnCurrentFunction === null;
    if (isNested || free()) return origBegin.call(this, isNested, limits);
    return (async () => {
      while (!free()) {
        if (gate.mustWait()) await gate.admit();
        else await this._waitOnCurrentFunction;
      }
      return origBegin.call(this, isNested, limits);
    })();
  };
}

/**
 * A top-level commit (`_writes.length === 1` before the pop) is a committed
 * transaction: journal it (group commit: nothing observes it before its
 * fsync, store.ts), update the table/index maps, and tell live queries what
 * changed once it is on disk (engine.emitCommit).
 */
function hookCommit(host: HookHost) {
  const origCommit = host.db.commit;
  host.db.commit = function (commitTs: bigint | null) {
    if (this._writes.length !== 1 || commitTs === null) return origCommit.call(this, commitTs);
    const pending = this._writes[0] as Record<string, unknown>;
    const ids = Object.keys(pending);
    const olds = ids.map((id) => (this._documents[id] as Doc | undefined) ?? null);
    origCommit.call(this, commitTs);
    if (ids.length === 0) return;
    const changes: Change[] = ids.map((id, i) => ({
      id,
      table: tableOf(id) ?? "",
      old: olds[i]!,
      new: (this._documents[id] as Doc | undefined) ?? null,
    }));
    for (const ch of changes) host.tables.update(ch.id, ch.old, ch.new);
    if (host.journal) {
      try {
        host.journal.append(
          { ts: commitTs.toString(), n: this._nextDocId, c: this._lastCreationTime, w: changes.map((ch) => [ch.id, encodeDoc(ch.new)]) },
          commitTs,
        );
      } catch (e) {
        host.onFatal(e as Error);
      }
    }
    host.emitCommit({ ts: commitTs, changes });
  };
}
