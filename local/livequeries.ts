/**
 * One connection's live queries and the Transitions that carry their results
 * (the protocol rules are in sync.ts's header): query-set and identity
 * changes are applied at the start of a Transition, dirty queries re-run on
 * one snapshot, and one Transition is sent per pass.
 */
import { convexToJson, type Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { affects, emptyReadSet, toFunctionError, type CommitInfo, type ReadSet } from "./engine.js";
import { decodeJournal, encodeJournal } from "./pagination.js";
import type { SharedResult, SyncServer } from "./sync.js";
import { decodeArgs, wireVersion, type Version } from "./wire.js";

export type Auth = { identity: UserIdentity | null; expiresAt: number | null };

export function isExpired(auth: Auth) {
  return auth.expiresAt !== null && auth.expiresAt <= Date.now();
}

/** What the live queries need of their connection. */
export type Link = {
  send(msg: Record<string, unknown>): void;
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
/** One query's new result, applied only when its Transition is sent. */
type Rerun = { queryId: number; q: Query; readSet: ReadSet; journal: string | null; json: string; mod: Modification };
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

  invalidate(info: CommitInfo) {
    if (this.link.isClosed()) return;
    let any = false;
    for (const q of this.queries.values()) {
      if (!q.dirty && affects(q.readSet, info.changes)) {
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
    const modifications = [...step.modifications, ...this.applyReruns(reruns)];
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
      reruns.push(this.rerunResult(queryId, q, r));
    }
    return reruns;
  }

  /** Keeps the new results; answers the modifications for those that changed. */
  private applyReruns(reruns: Rerun[]): Modification[] {
    const modifications: Modification[] = [];
    for (const r of reruns) {
      // The query may have been removed meanwhile (it is re-added later).
      if (this.queries.get(r.queryId) !== r.q) continue;
      r.q.readSet = r.readSet;
      r.q.journal = r.journal;
      if (r.json !== r.q.lastJson) {
        r.q.lastJson = r.json;
        modifications.push(r.mod);
      }
    }
    return modifications;
  }

  /** Sends a Transition from the last one sent, when there is anything to tell. */
  private sendTransition(step: Step, startTs: bigint, modifications: Modification[]) {
    const { identity, querySet } = step;
    const ts = startTs > this.sent.ts ? startTs : this.sent.ts;
    const needTransition =
      modifications.length > 0 ||
      querySet !== this.sent.querySet ||
      identity !== this.sent.identity ||
      (this.needTs > this.sent.ts && ts >= this.needTs);
    if (!needTransition) return;
    const end: Version = { querySet, identity, ts };
    this.link.send({ type: "Transition", startVersion: wireVersion(this.sent), endVersion: wireVersion(end), modifications });
    this.sent = end;
  }

  /** One query's new result (or the error of its arguments), not yet applied (see pass). */
  private rerunResult(queryId: number, q: Query, r: SharedResult | Error): Rerun {
    let readSet = emptyReadSet();
    let journal = q.journal;
    let mod: Modification;
    let json: string;
    try {
      if (r instanceof Error) throw r;
      readSet = r.readSet;
      if (!r.ok) throw r.error;
      journal = r.readSet.journal?.next ?? null;
      const encoded = convexToJson(r.value);
      const wireJournal = encodeJournal(q.udfPath, q.argsJson, journal);
      json = wireJournal === null ? "V" + JSON.stringify(encoded) : "V" + JSON.stringify(encoded) + "\u0000" + wireJournal;
      mod = { type: "QueryUpdated", queryId, value: encoded, logLines: [], journal: wireJournal };
    } catch (e) {
      const fe = toFunctionError(e);
      const errorData = fe.data !== undefined ? convexToJson(fe.data) : undefined;
      json = "E" + fe.message + "\u0000" + JSON.stringify(errorData ?? null);
      mod = { type: "QueryFailed", queryId, errorMessage: fe.message, logLines: [], journal: encodeJournal(q.udfPath, q.argsJson, journal) };
      if (errorData !== undefined) mod.errorData = errorData;
    }
    return { queryId, q, readSet, journal, json, mod };
  }
}
