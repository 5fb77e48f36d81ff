/**
 * One connection's live queries and the Transitions that carry their results
 * (the protocol rules are in sync.ts's header): query-set and identity
 * changes are applied at the start of a Transition, dirty queries re-run on
 * one snapshot, and one Transition is sent per pass.
 */
import { convexToJson, type Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { emptyReadSet, toFunctionError, type CommitInfo, type ReadSet } from "./engine.js";
import { decodeJournal, encodeJournal } from "./pagination.js";
import type { SharedResult, SyncServer } from "./sync.js";
import { decodeArgs, wireVersion, type Version } from "./wire.js";

export type Auth = { identity: UserIdentity | null; expiresAt: number | null };

export function isExpired(auth: Auth) {
  return auth.expiresAt !== null && auth.expiresAt <= Date.now();
}

/** What the live queries need of their connection. */
export type Link = {
  /** Sends one message already in JSON. */
  sendText(text: string): void;
  isClosed(): boolean;
  /** The identity the queries run with has expired: end with an AuthError. */
  expired(): void;
  fatal(error: string): void;
  ip: string | null;
  userAgent: string | null;
};

type Query = {
  udfPath: string;
  args: Record<string, Value> | Error;
  argsJson: string;
  readSet: ReadSet;
  lastJson: string | null;
  dirty: boolean;
  /** The pagination journal's end cursor (pagination.ts). */
  journal: string | null;
};
type Modification = Record<string, unknown>;
/** What one Transition carries besides query results: its versions and removals. */
type Step = { identity: number; querySet: number; modifications: Modification[] };
/**
 * A query result as the wire carries it, made once per shared run (sync.ts)
 * however many subscribers receive it: `json` tells a changed result from an
 * unchanged one, `head` + query id + `tail` is its QueryUpdated / QueryFailed
 * modification in JSON.
 */
export type Rendered = { readSet: ReadSet; journal: string | null; json: string; head: string; tail: string };
/** One query's new result, applied only when its Transition is sent. */
type Rerun = { queryId: number; q: Query; result: Rendered };
/** Conflicted optimistic passes in a row before a Transition waits for a snapshot round. */
const OPTIMISTIC_TRIES = 2;

export class LiveQueries {
  private sent: Version = { querySet: 0, identity: 0, ts: 0n };
  /** Identity the live queries currently run with (applied in flush). */
  private appliedAuth: Auth = { identity: null, expiresAt: null };
  private pendingAuth: { auth: Auth; version: number } | null = null;
  private pendingQuerySets: Array<{ newVersion: number; modifications: Modification[] }> = [];
  private queries = new Map<number, Query>();
  /** A Transition's versions and removals kept over a conflicted pass (see flush). */
  private carried: Step | null = null;
  private conflicts = 0;
  /** The latest commit ts a MutationResponse promised; a Transition must reach it. */
  private needTs = 0n;
  private flushing = false;
  private again = false;

  constructor(
    private readonly server: SyncServer,
    private readonly link: Link,
  ) {}

  /** A ModifyQuerySet received (checked by the connection), applied at the next Transition. */
  queueQuerySet(newVersion: number, modifications: Modification[]) {
    this.pendingQuerySets.push({ newVersion, modifications });
    this.kick();
  }

  /** An accepted Authenticate, applied at the next Transition. */
  queueAuth(auth: Auth, version: number) {
    this.pendingAuth = { auth, version };
    this.kick();
  }

  /** A mutation committed at `ts`: follow its MutationResponse with a Transition that reaches it. */
  reachTs(ts: bigint) {
    if (ts > this.needTs) this.needTs = ts;
    this.kick();
  }

  /**
   * Marks dirty the queries `info` can change. `checked`: the answers so far
   * for this commit — subscribers of one shared run hold the same read set.
   */
  invalidate(info: CommitInfo, checked: Map<ReadSet, boolean>) {
    if (this.link.isClosed()) return;
    let any = false;
    for (const q of this.queries.values()) {
      if (!q.dirty && this.server.affects(q.readSet, info, checked)) {
        q.dirty = true;
        any = true;
      }
    }
    if (any) this.kick();
  }

  private kick() {
    if (this.link.isClosed()) return;
    if (this.flushing) {
      this.again = true;
      return;
    }
    void this.flush();
  }

  private async flush() {
    this.flushing = true;
    try {
      do {
        this.again = false;
        const step = this.applyPending();
        if (isExpired(this.appliedAuth)) {
          this.link.expired();
          return;
        }
        await this.transition(step);
      } while (this.again && !this.link.isClosed());
    } catch (e) {
      this.server.log.error(`sync: flush failed: ${(e as Error).stack ?? String(e)}`);
      this.link.fatal("Internal error");
    } finally {
      this.flushing = false;
    }
  }

  /**
   * One Transition on one snapshot. No query to run (a mutation's ts, a
   * removal): the clean results are valid at the current ts as they stand (a
   * commit marks what it affects dirty as it lands). Queries to run:
   * optimistically first — valid when no commit landed while they ran, else
   * nothing is sent and they run again — and after OPTIMISTIC_TRIES conflicts
   * in a row, in a snapshot round that no commit can enter (sync.ts).
   */
  private async transition(step: Step) {
    if (this.conflicts >= OPTIMISTIC_TRIES && this.anyDirty()) {
      await this.server.inSnapshot(async () => void (await this.pass(step, false)));
      this.conflicts = 0;
    } else if (await this.pass(step, true)) {
      this.conflicts = 0;
    } else {
      this.carried = step;
      this.conflicts++;
      this.again = true;
    }
  }

  private anyDirty(): boolean {
    for (const q of this.queries.values()) if (q.dirty) return true;
    return false;
  }

  /** Applies the Authenticate and ModifyQuerySet messages received so far (in order). */
  private applyPending(): Step {
    const step: Step = this.carried ?? { identity: this.sent.identity, querySet: this.sent.querySet, modifications: [] };
    this.carried = null;
    if (this.pendingAuth) {
      this.appliedAuth = this.pendingAuth.auth;
      step.identity = this.pendingAuth.version;
      this.pendingAuth = null;
      for (const q of this.queries.values()) q.dirty = true;
    }
    for (const qs of this.pendingQuerySets.splice(0)) {
      for (const m of qs.modifications) this.applyModification(m, step.modifications);
      step.querySet = qs.newVersion;
    }
    return step;
  }

  private applyModification(m: Modification, modifications: Modification[]) {
    const queryId = m.queryId as number;
    if (m.type !== "Add") {
      this.queries.delete(queryId);
      modifications.push({ type: "QueryRemoved", queryId });
      return;
    }
    const udfPath = m.udfPath as string;
    let args: Record<string, Value> | Error;
    try {
      args = decodeArgs(m.args as unknown[]);
    } catch (e) {
      args = e as Error;
    }
    const argsJson = JSON.stringify(m.args);
    const journal = decodeJournal(udfPath, argsJson, m.journal);
    this.queries.set(queryId, { udfPath, args, argsJson, readSet: emptyReadSet(), lastJson: null, dirty: true, journal });
  }

  /**
   * Re-runs the dirty queries and sends one Transition. `optimistic`: when a
   * commit landed meanwhile, sends nothing, marks them dirty again and
   * answers false.
   */
  private async pass(step: Step, optimistic: boolean): Promise<boolean> {
    const startTs = this.server.engine.lastCommitTs;
    const reruns = await this.rerunDirty();
    if (reruns === null) return true; // the connection closed meanwhile
    if (optimistic && this.server.engine.lastCommitTs !== startTs) {
      for (const r of reruns) r.q.dirty = true;
      return false;
    }
    const modifications = [...step.modifications.map((m) => JSON.stringify(m)), ...this.applyReruns(reruns)];
    this.sendTransition(step, startTs, modifications);
    if (this.needTs > this.sent.ts) this.again = true;
    for (const q of this.queries.values()) if (q.dirty) this.again = true;
    if (this.pendingAuth || this.pendingQuerySets.length > 0) this.again = true;
    return true;
  }

  /** Runs each dirty query (marking it clean); null when the connection closed meanwhile. */
  private async rerunDirty(): Promise<Rerun[] | null> {
    const reruns: Rerun[] = [];
    const opts = { identity: this.appliedAuth.identity, ip: this.link.ip, userAgent: this.link.userAgent };
    for (const [queryId, q] of this.queries) {
      if (!q.dirty) continue;
      q.dirty = false;
      const r = q.args instanceof Error ? q.args : await this.server.runQuery(q.udfPath, q.args, q.argsJson, q.journal, opts);
      if (this.link.isClosed()) return null;
      const result = r instanceof Error ? render(q, r) : (r.rendered ??= this.server.render(q, r));
      reruns.push({ queryId, q, result });
    }
    return reruns;
  }

  /** Keeps the new results; answers the modifications for those that changed. */
  private applyReruns(reruns: Rerun[]): string[] {
    const modifications: string[] = [];
    for (const { queryId, q, result } of reruns) {
      // The query may have been removed meanwhile (it is re-added later).
      if (this.queries.get(queryId) !== q) continue;
      q.readSet = result.readSet;
      q.journal = result.journal;
      if (result.json !== q.lastJson) {
        q.lastJson = result.json;
        modifications.push(result.head + String(queryId) + result.tail);
      }
    }
    return modifications;
  }

  /** Sends a Transition from the last one sent, when there is anything to tell. */
  private sendTransition(step: Step, startTs: bigint, modifications: string[]) {
    const { identity, querySet } = step;
    const ts = startTs > this.sent.ts ? startTs : this.sent.ts;
    const needTransition =
      modifications.length > 0 ||
      querySet !== this.sent.querySet ||
      identity !== this.sent.identity ||
      (this.needTs > this.sent.ts && ts >= this.needTs);
    if (!needTransition) return;
    const end: Version = { querySet, identity, ts };
    // Assembled from the modifications' JSON: a result is encoded once (render), not per subscriber.
    const versions = `"startVersion":${JSON.stringify(wireVersion(this.sent))},"endVersion":${JSON.stringify(wireVersion(end))}`;
    this.link.sendText(`{"type":"Transition",${versions},"modifications":[${modifications.join(",")}]}`);
    this.sent = end;
  }
}

/** One query's new result (or the error of its arguments) as the wire carries it (see Rendered). */
export function render(q: { udfPath: string; argsJson: string; journal: string | null }, r: SharedResult | Error): Rendered {
  let readSet = emptyReadSet();
  let journal = q.journal;
  try {
    if (r instanceof Error) throw r;
    readSet = r.readSet;
    if (!r.ok) throw r.error;
    journal = r.readSet.journal?.next ?? null;
    const value = JSON.stringify(convexToJson(r.value));
    const wireJournal = encodeJournal(q.udfPath, q.argsJson, journal);
    const json = wireJournal === null ? "V" + value : "V" + value + "\u0000" + wireJournal;
    const tail = `,"value":${value},"logLines":[],"journal":${JSON.stringify(wireJournal)}}`;
    return { readSet, journal, json, head: '{"type":"QueryUpdated","queryId":', tail };
  } catch (e) {
    const fe = toFunctionError(e);
    const errorData = fe.data !== undefined ? convexToJson(fe.data) : undefined;
    const json = "E" + fe.message + "\u0000" + JSON.stringify(errorData ?? null);
    const wireJournal = encodeJournal(q.udfPath, q.argsJson, journal);
    const tail =
      `,"errorMessage":${JSON.stringify(fe.message)},"logLines":[],"journal":${JSON.stringify(wireJournal)}` +
      (errorData !== undefined ? `,"errorData":${JSON.stringify(errorData)}}` : "}");
    return { readSet, journal, json, head: '{"type":"QueryFailed","queryId":', tail };
  }
}
