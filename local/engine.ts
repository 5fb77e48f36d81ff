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
 * Hooks on that instance (hooks.ts, one function each; each exists for one reason):
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
import { jsonToConvex, type Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { convexTestMisses, type ValidatorJson } from "./argcheck.js";
import { installHooks, type HookHost } from "./hooks.js";
import { canonicalizeUdfPath, type ModuleMap } from "./modules.js";
import { tableOf } from "./ids.js";
import type { CommitInfo, ReadSet } from "./readset.js";
import { installRejectedIdentity, rejectedIdentity } from "./rejected.js";
import { SnapshotGate } from "./snapshot.js";
import type { Doc, Journal, Restored } from "./store.js";
import { TableIndex } from "./tables.js";

export type UdfKind = "query" | "mutation" | "action";
export { affects, emptyReadSet, type Change, type CommitInfo, type ReadSet } from "./readset.js";
export { tableOf };

export type CallOptions = {
  identity?: UserIdentity | null;
  /** The request carried a token that was rejected (HTTP actions only: see rejected.ts). */
  rejected?: string;
  ip?: string | null;
  userAgent?: string | null;
};

const ACCESSORS_MAX = 1000;

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

type AnyFn = ((...a: unknown[]) => unknown) & {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  exportArgs?: () => string;
};

type Any = any;

/** A function's argument validator, exported and parsed once per function (not on each call). */
const parsedArgs = new WeakMap<AnyFn, ValidatorJson | undefined>();
function argsValidatorOf(fn: AnyFn): ValidatorJson | undefined {
  if (!parsedArgs.has(fn)) parsedArgs.set(fn, fn.exportArgs ? (JSON.parse(fn.exportArgs()) as ValidatorJson) : undefined);
  return parsedArgs.get(fn);
}

export class Engine implements HookHost {
  readonly readTracker = new AsyncLocalStorage<ReadSet>();
  /** One snapshot per Transition: live-query runs (tracked reads) hold it (snapshot.ts). */
  readonly gate = new SnapshotGate(() => this.readTracker.getStore() !== undefined);
  private readonly commitListeners = new Set<(c: CommitInfo) => void>();
  readonly tables: TableIndex;
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
    this.tables = new TableIndex((table) => this.db._schema?.tables.get(table));
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
    const { convexGlobal, executionContext, authFake } = await reachConvexTest(t);
    installRejectedIdentity(authFake, executionContext);
    const db = convexGlobal.components[""].db;
    for (const m of ["commit", "get", "_generateId", "_iterateDocs", "_resolveQuerySource", "paginate"]) {
      if (typeof db[m] !== "function") throw new Error(`convex-test DatabaseFake has no ${m}() (unsupported version)`);
    }
    const engine = new Engine(t, db, convexGlobal.transactionManager, schema, modules, root);
    installHooks(engine);
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
    this.tables.clear();
    for (const [id, doc] of state.documents) this.tables.add(id, doc);
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
    return [...this.tables.ids(table)];
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
    return this.tables.count(table);
  }

  /**
   * For the commit hook (hooks.ts): the commit listeners (live queries) hear
   * of a commit once it is on disk (deliver), at once when there is no journal.
   */
  emitCommit(info: CommitInfo): void {
    if (this._journal) this.undelivered.push(info);
    else this.notify(info);
  }

  // ---- calling functions ---------------------------------------------------------

  /**
   * convex-test's accessor for a caller, reused across requests: building one
   * (a test JWT, a dozen closures) was ~5% of a verification's CPU. Accessors
   * hold no state between calls (each call gets its own request id), and the
   * identity is handed out as a copy on every call (rejected.ts). Bounded: the
   * oldest goes first.
   */
  private accessors = new Map<string, Any>();

  private accessor(opts: CallOptions): Any {
    const key = JSON.stringify([opts.identity ?? null, opts.rejected ?? null, opts.ip ?? null, opts.userAgent ?? null]);
    const known = this.accessors.get(key);
    if (known !== undefined) return known;
    let a = this.t;
    if (opts.identity) a = a.withIdentity(opts.identity);
    else if (opts.rejected !== undefined) a = a.withIdentity(rejectedIdentity(opts.rejected));
    a = a.withRequestMetadata({ ip: opts.ip ?? null, userAgent: opts.userAgent ?? null });
    if (this.accessors.size >= ACCESSORS_MAX) this.accessors.delete(this.accessors.keys().next().value!);
    this.accessors.set(key, a);
    return a;
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
  async resolvePublic(udfPath: string, kind: UdfKind | "any"): Promise<{ udfPath: string; kind: UdfKind; argsValidator?: ValidatorJson }> {
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
    return { udfPath: c.udfPath, kind: actual, argsValidator: argsValidatorOf(fn) };
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
    const missed = fn.argsValidator ? convexTestMisses(fn.argsValidator, args, "") : null;
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

/**
 * Catches convex-test's ConvexGlobal and its execution-context store (see
 * the header comment), and its AuthFake (rejected.ts).
 */
async function reachConvexTest(t: Any): Promise<{
  convexGlobal: Any;
  executionContext: AsyncLocalStorage<{ udfType?: string }>;
  authFake: Any;
}> {
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
    await t.finishInProgressScheduledFunctions();
    await t.withIdentity({ subject: "probe" }).run(async (ctx: Any) => {
      authFake = Object.getPrototypeOf(ctx.auth);
    });
  } finally {
    AsyncLocalStorage.prototype.run = originalRun;
  }
  if (!convexGlobal || !executionContext || typeof authFake?.getUserIdentity !== "function") {
    throw new Error("could not reach convex-test's state (unsupported convex-test version?)");
  }
  return { convexGlobal, executionContext, authFake };
}

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
