/**
 * The function engine: convex-test's in-process Convex runtime (a dependency,
 * not a copy), reached through a few hooks on its database object.
 *
 * convex-test keeps its state in a `DatabaseFake` that it does not export. We
 * reach the instance without forking: while making the first call on the
 * `convexTest()` object we briefly wrap `AsyncLocalStorage.prototype.run` and
 * catch the store convex-test enters (`convexGlobalStorage.run(convexGlobal,
 * ...)` on every call) — it holds `components[""].db` and the
 * `transactionManager`. Then we restore the original `run`.
 *
 * Hooks on that instance (each exists for one reason):
 * - `commit`: a top-level commit (`_writes.length === 1` before the pop) is a
 *   committed transaction: journal it (fsync) before anything can observe it,
 *   update our table/index maps, and tell live queries what changed.
 * - `_iterateDocs`: upstream scans `Object.keys` of *all* documents and
 *   filters by table on every query (~26 ms per lookup at 10k docs); ours
 *   walks a per-table id set, or an index bucket when one was chosen.
 * - `_resolveQuerySource`: for an `IndexRange` whose first bound is `Eq`, pick
 *   the bucket of that index's first field (the rest of the range, sorting and
 *   filters still run upstream, unchanged); and record what a live query read.
 * - `get`: record single-document reads of live queries.
 * - `paginate`: Convex's pagination journals for live queries (pagination.ts).
 * - `transactionManager.begin`: one snapshot per Transition (snapshot.ts).
 * - `_generateId`: 128 random bits per id instead of a counter (ids.ts).
 * - restore: persisted documents and the id / creation-time / commit-ts
 *   counters are put back before the first function runs, so ids are never
 *   reused and timestamps never go backwards.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { convexTest } from "convex-test";
import { compareValues, convexToJson, jsonToConvex, type Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { canonicalizeUdfPath, type ModuleMap } from "./modules.js";
import { newDocumentId, tableOf } from "./ids.js";
import { isWellFormedCursor, paginateWithJournal, type JournalState } from "./pagination.js";
import { installRejectedIdentity, rejectedIdentity } from "./rejected.js";
import { SnapshotGate } from "./snapshot.js";
import { encodeDoc, type Doc, type Journal, type Restored } from "./store.js";

export type UdfKind = "query" | "mutation" | "action";

/** What a live query read: used to decide whether a commit can change it. */
export type ReadSet = {
  ids: Set<string>;
  tables: Set<string>;
  ranges: Array<{ table: string; range: RangeExpr[] }>;
  /** A live query's pagination journal (pagination.ts). */
  journal?: JournalState;
};
type RangeExpr = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: unknown };

export type Change = { id: string; table: string; old: Doc | null; new: Doc | null };
export type CommitInfo = { ts: bigint; changes: Change[] };

export type CallOptions = {
  identity?: UserIdentity | null;
  /** The request carried a token that was rejected (HTTP actions only: see rejected.ts). */
  rejected?: string;
  ip?: string | null;
  userAgent?: string | null;
};

/** A user-facing function error; `data` is set for ConvexError. */
export class FunctionError extends Error {
  constructor(
    message: string,
    readonly data: Value | undefined,
    readonly status: number = 560,
  ) {
    super(message);
  }
}

export function emptyReadSet(): ReadSet {
  return { ids: new Set(), tables: new Set(), ranges: [] };
}

export { tableOf };

function fieldOf(doc: Record<string, unknown>, fieldPath: string): Value | undefined {
  let cur: unknown = doc;
  for (const part of fieldPath.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur) || cur instanceof ArrayBuffer) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur as Value | undefined;
}

function queryValue(v: unknown): Value | undefined {
  if (typeof v === "object" && v !== null && "$undefined" in v) return undefined;
  return jsonToConvex(v as never);
}

/** Bucket key of an index field value; null when we don't bucket such values. */
function bucketKey(v: Value | undefined): string | null {
  // Values that compare equal must get the same key (a bucket may hold more
  // than the range matches: the range filter still runs upstream).
  if (typeof v === "string") return "s" + v;
  if (typeof v === "number") return "n" + String(v);
  if (v === undefined) return "u";
  if (v === null || typeof v !== "object" || typeof v === "bigint") return JSON.stringify(convexToJson(v));
  return null; // objects, arrays, bytes: compared structurally upstream; no bucket
}

function matchesRange(doc: Doc, range: RangeExpr[]): boolean {
  for (const f of range) {
    const c = compareValues(fieldOf(doc, f.fieldPath), queryValue(f.value));
    const ok =
      f.type === "Eq" ? c === 0 : f.type === "Gt" ? c > 0 : f.type === "Gte" ? c >= 0 : f.type === "Lt" ? c < 0 : c <= 0;
    if (!ok) return false;
  }
  return true;
}

/** Could `changes` alter the result of a query that read `rs`? */
export function affects(rs: ReadSet, changes: Change[]): boolean {
  for (const ch of changes) {
    if (rs.ids.has(ch.id) || rs.tables.has(ch.table)) return true;
    for (const r of rs.ranges) {
      if (r.table !== ch.table) continue;
      if ((ch.old && matchesRange(ch.old, r.range)) || (ch.new && matchesRange(ch.new, r.range))) return true;
    }
  }
  return false;
}

type IndexMap = { name: string; field: string; buckets: Map<string, Set<string>> };

type AnyFn = ((...a: unknown[]) => unknown) & {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  exportArgs?: () => string;
};

type Any = any;

export class Engine {
  readonly readTracker = new AsyncLocalStorage<ReadSet>();
  /** One snapshot per Transition: live-query runs (tracked reads) hold it (snapshot.ts). */
  readonly gate = new SnapshotGate(() => this.readTracker.getStore() !== undefined);
  private readonly commitListeners = new Set<(c: CommitInfo) => void>();
  private tableIds = new Map<string, Set<string>>();
  private indexes = new Map<string, IndexMap[]>();
  private byModule = new Map<string, () => Promise<Record<string, unknown>>>();
  private _journal: Journal | null = null;
  /** Commits made but not yet on disk, oldest first: their listeners run once they are. */
  private undelivered: CommitInfo[] = [];
  /** Called when the journal cannot be written: the process must stop. */
  onFatal: (err: Error) => void = (err) => {
    throw err;
  };

  private constructor(
    readonly t: Any,
    readonly db: Any,
    readonly tm: Any,
    readonly schema: Any,
    modules: ModuleMap,
    root: string,
  ) {
    for (const [file, load] of Object.entries(modules)) {
      if (!file.startsWith(root)) continue;
      this.byModule.set(file.slice(root.length).replace(/\.[^./]+$/, "").split("\\").join("/"), load);
    }
  }

  static async create(modules: ModuleMap): Promise<Engine> {
    const generated = Object.keys(modules).find((k) => k.includes("_generated"))!;
    const root = generated.split("_generated", 2)[0]!;
    const schemaKey = Object.keys(modules).find((k) => /^schema\.[^./]+$/.test(k.slice(root.length)));
    const schema = schemaKey ? ((await modules[schemaKey]!()) as { default: unknown }).default : undefined;
    // Convex's per-transaction limits (reads, writes, index ranges, scheduled
    // functions), enforced as on a deployment: convex-test's defaults are
    // Convex's documented limits (https://docs.convex.dev/production/state/limits).
    const t = convexTest({ schema: schema as never, modules: modules as never, transactionLimits: true });

    // Catch convex-test's ConvexGlobal and its execution-context store (see
    // the header comment), and its AuthFake (rejected.ts).
    const originalRun = AsyncLocalStorage.prototype.run;
    let convexGlobal: Any = null;
    let executionContext: AsyncLocalStorage<{ udfType?: string }> | null = null;
    AsyncLocalStorage.prototype.run = function (this: AsyncLocalStorage<unknown>, store: unknown, fn: Any, ...args: unknown[]) {
      if (store && typeof store === "object" && "components" in store && "transactionManager" in store) {
        convexGlobal = store;
      }
      if (store && typeof store === "object" && "udfType" in store && "depth" in store) {
        executionContext = this as AsyncLocalStorage<{ udfType?: string }>;
      }
      return originalRun.call(this, store, fn, ...args);
    } as typeof originalRun;
    let authFake: Any = null;
    try {
      await (t as Any).finishInProgressScheduledFunctions();
      await (t as Any).withIdentity({ subject: "probe" }).run(async (ctx: Any) => {
        authFake = Object.getPrototypeOf(ctx.auth);
      });
    } finally {
      AsyncLocalStorage.prototype.run = originalRun;
    }
    if (!convexGlobal || !executionContext || typeof authFake?.getUserIdentity !== "function") {
      throw new Error("could not reach convex-test's state (unsupported convex-test version?)");
    }
    installRejectedIdentity(authFake, executionContext);
    const db = convexGlobal.components[""].db;
    for (const m of ["commit", "get", "_generateId", "_iterateDocs", "_resolveQuerySource", "paginate"]) {
      if (typeof db[m] !== "function") throw new Error(`convex-test DatabaseFake has no ${m}() (unsupported version)`);
    }
    const engine = new Engine(t, db, convexGlobal.transactionManager, schema, modules, root);
    engine.installHooks();
    return engine;
  }

  /** The journal commits go to (group commit, store.ts); null: in memory only. */
  get journal(): Journal | null {
    return this._journal;
  }

  set journal(j: Journal | null) {
    this._journal = j;
    if (!j) {
      journaled.delete(this);
      return;
    }
    journaled.add(this);
    installFetchBarrier();
    j.onDurable = (ts) => this.deliver(ts);
    j.onError = (e) => this.onFatal(e);
  }

  /**
   * Null when every commit made so far is on disk, else a promise for it.
   * Whatever may show a commit (replies, live updates, an action's outgoing
   * fetch) waits on this first: the newest commit bounds what it could have read.
   */
  durable(): Promise<void> | null {
    return this._journal?.whenDurable(this.lastCommitTs) ?? null;
  }

  /** Runs the commit listeners of the commits now on disk (up to `ts`), in commit order. */
  private deliver(ts: bigint) {
    let n = 0;
    while (n < this.undelivered.length && this.undelivered[n]!.ts <= ts) n++;
    for (const info of this.undelivered.splice(0, n)) this.notify(info);
  }

  private notify(info: CommitInfo) {
    for (const fn of this.commitListeners) {
      try {
        fn(info);
      } catch (e) {
        console.error("[keyhole] commit listener failed:", (e as Error).message);
      }
    }
  }

  get lastCommitTs(): bigint {
    return this.tm._lastCommitTs as bigint;
  }

  onCommit(fn: (c: CommitInfo) => void): () => void {
    this.commitListeners.add(fn);
    return () => this.commitListeners.delete(fn);
  }

  /** Puts persisted state back. Must run before any function. */
  restore(state: Restored): void {
    const docs: Record<string, Doc> = Object.create(null);
    for (const [id, doc] of state.documents) docs[id] = doc;
    this.db._documents = docs;
    this.db._nextDocId = Math.max(this.db._nextDocId, state.nextDocId);
    this.db._lastCreationTime = Math.max(this.db._lastCreationTime, state.lastCreationTime);
    if (state.lastCommitTs > this.tm._lastCommitTs) this.tm._lastCommitTs = state.lastCommitTs;
    this.tableIds.clear();
    this.indexes.clear();
    for (const [id, doc] of state.documents) this.indexAdd(id, doc);
  }

  counters() {
    return {
      nextDocId: this.db._nextDocId as number,
      lastCreationTime: this.db._lastCreationTime as number,
      lastCommitTs: this.tm._lastCommitTs as bigint,
    };
  }

  *documents(): Iterable<[string, Doc]> {
    for (const id of Object.keys(this.db._documents)) yield [id, this.db._documents[id]];
  }

  /** Committed ids of one table. */
  idsOf(table: string): string[] {
    return [...(this.tableIds.get(table) ?? EMPTY)];
  }

  /** A committed document, or null. */
  document(id: string): Doc | null {
    return (this.db._documents[id] as Doc | undefined) ?? null;
  }

  /** Deletes documents in journaled transactions (start-up maintenance). */
  async deleteDocuments(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 1000) {
      const batch = ids.slice(i, i + 1000);
      await this.t.run(async (ctx: Any) => {
        for (const id of batch) if ((await ctx.db.get(id)) !== null) await ctx.db.delete(id);
      });
    }
  }

  documentCount(table?: string): number {
    if (table) return this.tableIds.get(table)?.size ?? 0;
    let n = 0;
    for (const s of this.tableIds.values()) n += s.size;
    return n;
  }

  // ---- table / index maps ---------------------------------------------------

  private indexesFor(table: string): IndexMap[] {
    let list = this.indexes.get(table);
    if (!list) {
      list = [{ name: "by_id", field: "_id", buckets: new Map() }];
      const tableSchema = this.db._schema?.tables.get(table);
      for (const ix of tableSchema?.indexes ?? []) {
        list.push({ name: ix.indexDescriptor, field: ix.fields[0], buckets: new Map() });
      }
      this.indexes.set(table, list);
    }
    return list;
  }

  private indexAdd(id: string, doc: Doc) {
    const table = tableOf(id);
    if (!table) return;
    let ids = this.tableIds.get(table);
    if (!ids) this.tableIds.set(table, (ids = new Set()));
    ids.add(id);
    for (const ix of this.indexesFor(table)) {
      const key = bucketKey(fieldOf(doc, ix.field));
      if (key === null) continue;
      let b = ix.buckets.get(key);
      if (!b) ix.buckets.set(key, (b = new Set()));
      b.add(id);
    }
  }

  private indexRemove(id: string, doc: Doc) {
    const table = tableOf(id);
    if (!table) return;
    this.tableIds.get(table)?.delete(id);
    for (const ix of this.indexesFor(table)) {
      const key = bucketKey(fieldOf(doc, ix.field));
      if (key === null) continue;
      const b = ix.buckets.get(key);
      if (b) {
        b.delete(id);
        if (b.size === 0) ix.buckets.delete(key);
      }
    }
  }

  /** Candidate ids for an index range, or null to scan the table. */
  private candidates(table: string, indexName: string, range: RangeExpr[]): Set<string> | null {
    const first = range[0];
    if (!first || first.type !== "Eq") return null;
    const ix = this.indexesFor(table).find((i) => i.name === indexName);
    if (!ix || ix.field !== first.fieldPath) return null;
    // Objects/arrays/bytes are not bucketed. A document holding one at this
    // field can only equal a query value of the same kind, and for such query
    // values we scan the whole table instead.
    const key = bucketKey(queryValue(first.value));
    if (key === null) return null;
    return ix.buckets.get(key) ?? EMPTY;
  }

  // ---- hooks -------------------------------------------------------------------

  private installHooks() {
    const db = this.db;
    // The hooks run with `this` = the DatabaseFake; they also need the engine.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const engine = this;
    const origGet = db.get;
    const origCommit = db.commit;
    const origResolve = db._resolveQuerySource;
    let hint: { table: string; ids: Set<string> } | null = null;
    let inResolve = false;

    // Unguessable ids instead of convex-test's counter (see ids.ts).
    db._generateId = function (table: string) {
      return newDocumentId(table, (id) => {
        if (this._documents[id] !== undefined) return true;
        return (this._writes as Record<string, unknown>[]).some((level) => level[id] !== undefined);
      });
    };

    db.get = function (tableName: string | undefined, id: string) {
      engine.readTracker.getStore()?.ids.add(id);
      return origGet.call(this, tableName, id);
    };

    // For benchmarks only: measure convex-test's own full scan.
    const upstreamScan = process.env.KEYHOLE_BENCH_UPSTREAM_SCAN === "1";
    const origIterate = db._iterateDocs;
    db._iterateDocs = function (tableName: string, callback: (doc: Doc) => void) {
      const rs = engine.readTracker.getStore();
      if (rs && !inResolve) rs.tables.add(tableName);
      if (upstreamScan) return origIterate.call(this, tableName, callback);
      const base = hint && hint.table === tableName ? hint.ids : (engine.tableIds.get(tableName) ?? EMPTY);
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

    db._resolveQuerySource = function (query: Any) {
      const rs = engine.readTracker.getStore();
      const source = query.source;
      hint = null;
      if (source.type === "IndexRange") {
        const [table, indexName] = String(source.indexName).split(".") as [string, string];
        rs?.ranges.push({ table, range: source.range });
        const ids = engine.candidates(table, indexName, source.range);
        if (ids) hint = { table, ids };
      } else {
        const table = source.type === "FullTableScan" ? source.tableName : String(source.indexName).split(".")[0];
        rs?.tables.add(table);
      }
      inResolve = true;
      try {
        return origResolve.call(this, query);
      } finally {
        inResolve = false;
        hint = null;
      }
    };

    // convex-test JSON.parses a client's cursor and crashes on garbage; refuse
    // it the way the real backend does, as an invalid cursor.
    const origPaginate = db.paginate;
    db.paginate = function (opts: { cursor: unknown; endCursor?: unknown }) {
      for (const c of [opts.cursor, opts.endCursor]) {
        if (c !== null && c !== undefined && !isWellFormedCursor(c)) {
          throw new Error("InvalidCursor: the pagination cursor is malformed; pass null or a continueCursor you were given");
        }
      }
      const journal = engine.readTracker.getStore()?.journal;
      return paginateWithJournal(journal, opts, (o) => origPaginate.call(this, o));
    };

    // One snapshot per Transition (snapshot.ts): a top-level transaction
    // begins only when no one else holds the gate, and takes convex-test's
    // lock in the same synchronous step.
    const tm = this.tm;
    const origBegin = tm.begin;
    tm.begin = function (isNested: boolean, limits: unknown) {
      const free = () => !engine.gate.mustWait() && this._waitOnCurrentFunction === null;
      if (isNested || free()) return origBegin.call(this, isNested, limits);
      return (async () => {
        while (!free()) {
          if (engine.gate.mustWait()) await engine.gate.admit();
          else await this._waitOnCurrentFunction;
        }
        return origBegin.call(this, isNested, limits);
      })();
    };

    db.commit = function (commitTs: bigint | null) {
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
      for (const ch of changes) {
        if (ch.old) engine.indexRemove(ch.id, ch.old);
        if (ch.new) engine.indexAdd(ch.id, ch.new);
      }
      const info = { ts: commitTs, changes };
      const journal = engine._journal;
      if (!journal) return engine.notify(info);
      try {
        journal.append(
          { ts: commitTs.toString(), n: this._nextDocId, c: this._lastCreationTime, w: changes.map((ch) => [ch.id, encodeDoc(ch.new)]) },
          commitTs,
        );
      } catch (e) {
        engine.onFatal(e as Error);
      }
      // Live queries hear of it once it is on disk (deliver).
      engine.undelivered.push(info);
    };
  }

  // ---- calling functions ---------------------------------------------------------

  private accessor(opts: CallOptions): Any {
    let a = this.t;
    if (opts.identity) a = a.withIdentity(opts.identity);
    else if (opts.rejected !== undefined) a = a.withIdentity(rejectedIdentity(opts.rejected));
    return a.withRequestMetadata({ ip: opts.ip ?? null, userAgent: opts.userAgent ?? null });
  }

  /**
   * Imports every module, so the first call of each function doesn't pay for
   * compiling it. Failures are ignored here; they surface on the call.
   */
  async preloadAll(): Promise<void> {
    for (const [name, load] of this.byModule) {
      if (name.startsWith("_generated")) continue;
      await load().catch(() => {});
    }
  }

  /** Loads a module by its path relative to convex/ (no extension). */
  async loadModule(modulePath: string): Promise<Record<string, unknown> | null> {
    const load = this.byModule.get(modulePath);
    return load ? await load() : null;
  }

  /** Resolves a client-callable function; throws FunctionError like the real backend. */
  async resolvePublic(udfPath: string, kind: UdfKind | "any"): Promise<{ udfPath: string; kind: UdfKind; argsValidator?: string }> {
    if (typeof udfPath !== "string" || udfPath.length === 0 || udfPath.length > 1024) {
      throw new FunctionError("Invalid function path", undefined, 400);
    }
    const c = canonicalizeUdfPath(udfPath);
    const notFound = () =>
      new FunctionError(
        `Could not find public function for '${c.udfPath}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`,
        undefined,
        404,
      );
    if (c.modulePath.startsWith("_") || c.modulePath.split("/").some((p) => p === ".." || p === "")) throw notFound();
    const mod = await this.loadModule(c.modulePath);
    const fn = mod?.[c.exportName] as AnyFn | undefined;
    if (!fn || !(fn.isQuery || fn.isMutation || fn.isAction) || !fn.isPublic) throw notFound();
    const actual: UdfKind = fn.isQuery ? "query" : fn.isMutation ? "mutation" : "action";
    if (kind !== "any" && kind !== actual) {
      const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);
      throw new FunctionError(
        `Trying to execute ${c.udfPath} as ${cap(kind)}, but it is defined as ${cap(actual)}.`,
        undefined,
      );
    }
    return { udfPath: c.udfPath, kind: actual, argsValidator: fn.exportArgs?.() };
  }

  /**
   * Runs a public function by path. Returns the Convex value; throws
   * FunctionError (ConvexError data preserved) on failure.
   */
  async call(
    kind: UdfKind | "any",
    udfPath: string,
    args: Record<string, Value>,
    opts: CallOptions = {},
    readSet?: ReadSet,
  ): Promise<{ value: Value; kind: UdfKind }> {
    const fn = await this.resolvePublic(udfPath, kind);
    const missed = fn.argsValidator ? convexTestMisses(JSON.parse(fn.argsValidator), args, "") : null;
    if (missed !== null) throw new FunctionError(missed, undefined);
    const path = { componentPath: "", udfPath: fn.udfPath };
    const a = this.accessor(opts);
    try {
      let value: Value;
      if (fn.kind === "query") {
        value = readSet
          ? await this.readTracker.run(readSet, () => a.queryFromPath(path, args))
          : await this.readTracker.exit(() => a.queryFromPath(path, args));
      } else if (fn.kind === "mutation") {
        value = await this.readTracker.exit(() => a.mutationFromPath(path, args));
      } else {
        value = await this.readTracker.exit(() => a.actionFromPath(path, args));
      }
      await this.durable();
      return { value: value === undefined ? null : value, kind: fn.kind };
    } catch (e) {
      await this.durable(); // an error may show what the function read, too
      throw toFunctionError(e);
    }
  }

  /** Runs any function (public or internal) by path, e.g. for crons. */
  async runInternal(udfPath: string, args: Record<string, Value>): Promise<Value> {
    const c = canonicalizeUdfPath(udfPath);
    return await this.readTracker.exit(() => this.t.fun({ componentPath: "", udfPath: c.udfPath }, args));
  }

  /**
   * Runs `fn` on one committed state: transactions in flight finish first and
   * no other transaction begins until `fn` is done (snapshot.ts).
   */
  onSnapshot<T>(fn: () => Promise<T>): Promise<T> {
    const quiesce = () =>
      this.tm._waitOnCurrentFunction === null
        ? null
        : (async () => {
            while (this.tm._waitOnCurrentFunction !== null) await this.tm._waitOnCurrentFunction;
          })();
    return this.gate.run(quiesce, fn);
  }

  /** Runs a function with direct access to the DatabaseFake inside a transaction. */
  async transact<T>(fn: (db: Any) => T): Promise<T> {
    const out = (await this.t.run(async () => fn(this.db))) as T;
    await this.durable();
    return out;
  }

  /** An HTTP action through convex/http.ts's router. */
  async fetch(pathAndQuery: string, init: RequestInit, opts: CallOptions = {}): Promise<Response> {
    const a = this.accessor(opts);
    try {
      return (await this.readTracker.exit(() => a.fetch(pathAndQuery, init))) as Response;
    } finally {
      await this.durable();
    }
  }
}

const EMPTY: Set<string> = new Set();

/** Engines with a journal: an action's outgoing fetch waits for their commits to be on disk. */
const journaled = new Set<Engine>();
let fetchBarrier = false;

/**
 * An action may send what it read or wrote (a webhook, an OAuth exchange)
 * with `fetch`: that too must not leave the process before the commits it
 * could have seen are durable (group commit, store.ts).
 */
function installFetchBarrier() {
  if (fetchBarrier) return;
  fetchBarrier = true;
  const original = globalThis.fetch;
  globalThis.fetch = async function (input: RequestInfo | URL, init?: RequestInit) {
    for (const e of journaled) await e.durable();
    return await original(input, init);
  } as typeof fetch;
}

/** Normalizes anything a function threw. */
export function toFunctionError(e: unknown): FunctionError {
  if (e instanceof FunctionError) return e;
  if (typeof e === "object" && e !== null && Symbol.for("ConvexError") in e) {
    const err = e as Error & { data: unknown };
    let data = err.data as Value;
    if (typeof data === "string") {
      // convex-test normally restores it; be lenient.
      try {
        data = jsonToConvex(JSON.parse(data)) as Value;
      } catch {
        /* a plain string payload */
      }
    }
    return new FunctionError(err.message, data);
  }
  if (e instanceof Error) return new FunctionError(`Uncaught ${e.name}: ${e.message}`, undefined);
  return new FunctionError(`Uncaught ${String(e)}`, undefined);
}

type ValidatorJson = { type: string; value?: Record<string, { fieldType: ValidatorJson }> | ValidatorJson };

/**
 * What convex-test's argument validator gets wrong, worded as Convex's
 * validator does (crates/common/src/schemas/validator.rs): it crashes on null
 * where an object is expected, and it misses an undeclared `__proto__` field
 * (it looks fields up as `validator.value[k]`, which finds Object.prototype).
 */
function convexTestMisses(validator: ValidatorJson, value: unknown, path: string): string | null {
  if (validator.type === "object" && validator.value) {
    if (value === null) {
      return `ArgumentValidationError: Value does not match validator.\nPath: ${path || "."}\nValue: null\nValidator: v.object(...)`;
    }
    if (typeof value !== "object" || Array.isArray(value)) return null;
    const fields = validator.value as Record<string, { fieldType: ValidatorJson }>;
    if (Object.hasOwn(value, "__proto__") && !Object.hasOwn(fields, "__proto__")) {
      return `ArgumentValidationError: Object contains extra field \`__proto__\` that is not in the validator.\nPath: ${path || "."}`;
    }
    for (const [k, { fieldType }] of Object.entries(fields)) {
      const found = convexTestMisses(fieldType, (value as Record<string, unknown>)[k], `${path}.${k}`);
      if (found !== null) return found;
    }
  } else if (validator.type === "array" && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = convexTestMisses(validator.value as ValidatorJson, value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
  }
  return null;
}
