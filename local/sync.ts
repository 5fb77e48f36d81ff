/**
 * The WebSocket sync protocol of ConvexClient / ConvexReactClient
 * (node_modules/convex/src/browser/sync/protocol.ts is the source of truth):
 * the server (sockets, shared query runs, mutation outcomes) here, one
 * connection in connection.ts (its live queries and Transitions in
 * livequeries.ts), wire helpers and limits in wire.ts.
 *
 * Per connection we keep the versions the client tracks — query set,
 * identity, timestamp — and only ever send a Transition whose startVersion is
 * exactly the last endVersion we sent (the client throws otherwise).
 *
 * - ModifyQuerySet / Authenticate are applied in the order received, at the
 *   start of the next Transition, so a Transition's endVersion always
 *   describes a query set and identity whose results it carries.
 * - A commit marks the live queries whose read set it touches as dirty; the
 *   connection re-runs them and sends what changed. Each Transition is
 *   computed on one snapshot: it is sent only when no commit landed while
 *   its queries ran (else they run again), and after two such conflicts in a
 *   row it is computed in a snapshot round no commit can enter (snapshot.ts).
 * - A successful MutationResponse carries the commit ts; the client resolves
 *   the mutation only once a Transition reaches that ts, so we always follow
 *   it with one (empty if nothing changed).
 * - Mutations are idempotent per (identity, sessionId, requestId): a client
 *   re-sends in-flight and completed mutations after a reconnect, and gets
 *   the recorded outcome instead of a second execution. Convex records the
 *   identity with each outcome (get-convex/convex-backend:
 *   crates/model/src/session_requests/); we also key by it, so a socket that
 *   borrows someone's session id never receives their results.
 * - Results carry pagination journals (pagination.ts).
 * - Caps per socket (query-set size, message size, in-flight requests): the
 *   offending socket gets a FatalError and is closed; no one else notices.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { affects, emptyReadSet, type CommitInfo, type Engine, type ReadSet } from "./engine.js";
import { Connection, type MutationOutcome } from "./connection.js";
import { render, type Rendered } from "./livequeries.js";
import type { IdentityVerifier } from "./identity.js";
import type { Logger } from "./log.js";
import { clientIp, header, MAX_MESSAGE_BYTES, SESSION_TTL_MS } from "./wire.js";

export {
  clientIp,
  decodeArgs,
  encodeTs,
  MAX_INFLIGHT_PER_SOCKET,
  MAX_MESSAGE_BYTES,
  MAX_QUERIES_PER_SOCKET,
} from "./wire.js";

/** One run of a live query, shared by its subscribers; `rendered` is its wire form, made once. */
export type SharedResult = ({ ok: true; value: Value } | { ok: false; error: unknown }) & { readSet: ReadSet; rendered?: Rendered };

export class SyncServer {
  private wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  readonly connections = new Set<Connection>();
  /** sessionId → requestId → outcome (for idempotent re-sends). */
  readonly sessions = new Map<string, { touched: number; results: Map<number, Promise<MutationOutcome>> }>();
  private sweeper: NodeJS.Timeout;
  /** Work counted on the live-query path (tests count steps with these). */
  readonly work = { commits: 0, readSetChecks: 0, renders: 0 };

  constructor(
    readonly engine: Engine,
    readonly verifier: IdentityVerifier,
    readonly log: Logger,
  ) {
    this.sweeper = setInterval(() => {
      const cutoff = Date.now() - SESSION_TTL_MS;
      for (const [id, s] of this.sessions) if (s.touched < cutoff) this.sessions.delete(id);
    }, 60_000);
    this.sweeper.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new Connection(this, ws, clientIp(req), header(req, "user-agent"));
      this.connections.add(conn);
      ws.on("close", () => {
        conn.dispose();
        this.connections.delete(conn);
      });
    });
  }

  /**
   * Live queries with the same path, args and identity share one execution
   * while no commit has happened since it started (its result is then valid
   * for all of them): 100 subscribers of one query cost one run per commit.
   */
  private shared = new Map<string, { ts: bigint; run: Promise<SharedResult> }>();

  runQuery(
    udfPath: string,
    args: Record<string, Value>,
    argsJson: string,
    journal: string | null,
    opts: { identity: UserIdentity | null; ip: string | null; userAgent: string | null },
  ) {
    const ts = this.engine.lastCommitTs;
    const key = `${udfPath}\u0000${argsJson}\u0000${JSON.stringify(opts.identity)}\u0000${journal ?? ""}`;
    const hit = this.shared.get(key);
    if (hit && hit.ts === ts) return hit.run;
    const readSet: ReadSet = { ...emptyReadSet(), journal: { prev: journal, next: null } };
    const run = this.engine.call("query", udfPath, args, opts, readSet).then(
      ({ value }): SharedResult => ({ ok: true, value, readSet }),
      (e: unknown): SharedResult => ({ ok: false, error: e, readSet }),
    );
    this.shared.set(key, { ts, run });
    void run.then(() => {
      // Drop it once stale; keep the map small.
      if (this.shared.get(key)?.run === run && this.engine.lastCommitTs !== ts) this.shared.delete(key);
    });
    if (this.shared.size > 10_000) {
      for (const [k, v] of this.shared) if (v.ts !== ts) this.shared.delete(k);
    }
    return run;
  }

  /**
   * Connections' Transitions that must run queries, batched: one snapshot
   * round (engine.onSnapshot) runs every pass queued by the time it starts,
   * concurrently (they share query runs), and no commit lands during it.
   * Between rounds, transactions waiting for the snapshot go first.
   */
  private queuedPasses: Array<{ run: () => Promise<void>; resolve: () => void; reject: (e: unknown) => void }> = [];
  private roundsRunning = false;

  inSnapshot(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queuedPasses.push({ run, resolve, reject });
      if (!this.roundsRunning) {
        this.roundsRunning = true;
        void this.runRounds();
      }
    });
  }

  private async runRounds() {
    try {
      while (this.queuedPasses.length > 0) {
        await this.engine.onSnapshot(async () => {
          const batch = this.queuedPasses.splice(0);
          await Promise.all(batch.map((p) => p.run().then(p.resolve, p.reject)));
        });
        // Let transactions that waited for this round begin before the next.
        if (this.queuedPasses.length > 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.roundsRunning = false;
    }
  }

  onCommit(info: CommitInfo) {
    this.work.commits++;
    for (const [k, v] of this.shared) if (v.ts < info.ts) this.shared.delete(k);
    const checked = new Map<ReadSet, boolean>();
    for (const c of this.connections) c.invalidate(info, checked);
  }

  /** Could `info` change a result that read `rs`? Asked once per read set and commit (`checked`). */
  affects(rs: ReadSet, info: CommitInfo, checked: Map<ReadSet, boolean>): boolean {
    let hit = checked.get(rs);
    if (hit === undefined) {
      this.work.readSetChecks++;
      checked.set(rs, (hit = affects(rs, info.changes)));
    }
    return hit;
  }

  /** A shared run's wire form (livequeries.ts); made once per run, however many subscribers. */
  render(q: { udfPath: string; argsJson: string; journal: string | null }, r: SharedResult): Rendered {
    this.work.renders++;
    return render(q, r);
  }

  session(id: string) {
    let s = this.sessions.get(id);
    if (!s) this.sessions.set(id, (s = { touched: Date.now(), results: new Map() }));
    s.touched = Date.now();
    return s;
  }

  close() {
    clearInterval(this.sweeper);
    for (const c of this.connections) c.ws.terminate();
    this.wss.close();
  }
}
