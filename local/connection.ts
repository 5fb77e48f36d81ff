/**
 * One sync connection (see sync.ts for the protocol rules it keeps).
 */
import { randomUUID } from "node:crypto";
import { WebSocket, type RawData } from "ws";
import { convexToJson, type Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { affects, emptyReadSet, toFunctionError, type CommitInfo, type ReadSet } from "./engine.js";
import { decodeJournal, encodeJournal } from "./pagination.js";
import type { SyncServer } from "./sync.js";
import {
  decodeArgs,
  encodeTs,
  MAX_INFLIGHT_PER_SOCKET,
  MAX_QUERIES_PER_SOCKET,
  PING_MS,
  SESSION_MAX_RESULTS,
  wireVersion,
  type Version,
} from "./wire.js";

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
type Auth = { identity: UserIdentity | null; expiresAt: number | null };
/** What one Transition carries besides query results: its versions and removals. */
type Step = { identity: number; querySet: number; modifications: Array<Record<string, unknown>> };
/** One query's new result, applied only when its Transition is sent. */
type Rerun = { queryId: number; q: Query; readSet: ReadSet; journal: string | null; json: string; mod: Record<string, unknown> };
/** Conflicted optimistic passes in a row before a Transition waits for a snapshot round. */
const OPTIMISTIC_TRIES = 2;
export type SharedResult = { ok: true; value: Value; readSet: ReadSet } | { ok: false; error: unknown; readSet: ReadSet };
export type MutationOutcome =
  | { success: true; result: unknown; ts: bigint }
  | { success: false; result: string; errorData?: unknown };

class ProtocolError extends Error {}

/** Whose mutation outcomes these are: the token's `iss|sub`, or no one. */
function identityKey(identity: UserIdentity | null): string {
  return identity ? `user:${identity.tokenIdentifier}` : "anonymous";
}

export class Connection {
  private sent: Version = { querySet: 0, identity: 0, ts: 0n };
  private receivedQuerySet = 0;
  private receivedIdentity = 0;
  /** Identity for mutations/actions: the latest accepted Authenticate. */
  private auth: Auth = { identity: null, expiresAt: null };
  /** Identity the live queries currently run with (applied in flush). */
  private appliedAuth: Auth = { identity: null, expiresAt: null };
  private pendingAuth: { auth: Auth; version: number } | null = null;
  private pendingQuerySets: Array<{ newVersion: number; modifications: Array<Record<string, unknown>> }> = [];
  private queries = new Map<number, Query>();
  /** Query ids as of the ModifyQuerySet messages received (for the cap). */
  private receivedQueryIds = new Set<number>();
  /** Mutations and actions sent and not answered yet. */
  private inflight = 0;
  /** A Transition's versions and removals kept over a conflicted pass (see transition). */
  private carried: Step | null = null;
  private conflicts = 0;
  private needTs = 0n;
  private flushing = false;
  private again = false;
  private closed = false;
  private inbound: Promise<void> = Promise.resolve();
  private mutations: Promise<void> = Promise.resolve();
  private sessionId: string;
  private lastSend = Date.now();
  private ping: NodeJS.Timeout;
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly server: SyncServer,
    readonly ws: WebSocket,
    private readonly ip: string | null,
    private readonly userAgent: string | null,
  ) {
    this.sessionId = `anon-${randomUUID()}`;
    ws.on("message", (data, isBinary) => this.receive(data, isBinary));
    ws.on("error", () => {
      /* 'close' follows */
    });
    this.ping = setInterval(() => {
      if (Date.now() - this.lastSend >= PING_MS) this.send({ type: "Ping" });
    }, PING_MS / 3);
    this.ping.unref();
  }

  dispose() {
    this.closed = true;
    clearInterval(this.ping);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
  }

  private send(msg: Record<string, unknown>) {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.lastSend = Date.now();
    this.ws.send(JSON.stringify(msg));
  }

  private fatal(error: string, code = 1008) {
    if (this.closed) return;
    this.server.log.warn(`sync: closing connection from ${this.ip ?? "?"}: ${error}`);
    this.send({ type: "FatalError", error });
    this.closed = true;
    this.ws.close(code, error.slice(0, 120));
  }

  private authError(error: string, baseVersion: number, authUpdateAttempted: boolean) {
    if (this.closed) return;
    this.send({ type: "AuthError", error, baseVersion, authUpdateAttempted });
    // Like the real backend, the connection ends; the client reconnects with a
    // fresh token (or none).
    this.closed = true;
    this.ws.close(1000, "AuthError");
  }

  private receive(data: RawData, isBinary: boolean) {
    if (this.closed) return;
    let msg: Record<string, unknown>;
    try {
      if (isBinary) throw new Error("binary frame");
      msg = JSON.parse(data.toString()) as Record<string, unknown>;
      if (!msg || typeof msg !== "object" || typeof msg.type !== "string") throw new Error("no message type");
    } catch (e) {
      this.fatal(`Invalid message: ${(e as Error).message}`, 1007);
      return;
    }
    this.inbound = this.inbound
      .then(() => this.handle(msg))
      .catch((e: unknown) => {
        if (e instanceof ProtocolError) this.fatal(e.message);
        else {
          this.server.log.error(`sync: ${(e as Error).stack ?? String(e)}`);
          this.fatal("Internal error");
        }
      });
  }

  private async handle(msg: Record<string, unknown>) {
    if (this.closed) return;
    switch (msg.type) {
      case "Connect": {
        if (typeof msg.sessionId === "string" && msg.sessionId.length <= 200) this.sessionId = msg.sessionId;
        return;
      }
      case "ModifyQuerySet": {
        const { baseVersion, newVersion, modifications } = msg as {
          baseVersion: unknown;
          newVersion: unknown;
          modifications: unknown;
        };
        if (baseVersion !== this.receivedQuerySet || typeof newVersion !== "number" || !Array.isArray(modifications)) {
          throw new ProtocolError(
            `Invalid ModifyQuerySet: base version ${String(baseVersion)}, expected ${this.receivedQuerySet}`,
          );
        }
        for (const m of modifications as Array<Record<string, unknown>>) {
          if (!m || typeof m.queryId !== "number" || (m.type !== "Add" && m.type !== "Remove")) {
            throw new ProtocolError("Invalid query set modification");
          }
          if (m.type === "Add" && (typeof m.udfPath !== "string" || !Array.isArray(m.args))) {
            throw new ProtocolError("Invalid Add modification");
          }
          if (m.type === "Add") this.receivedQueryIds.add(m.queryId);
          else this.receivedQueryIds.delete(m.queryId);
          if (this.receivedQueryIds.size > MAX_QUERIES_PER_SOCKET) {
            throw new ProtocolError(
              `TooManyQueries: a connection may subscribe to at most ${MAX_QUERIES_PER_SOCKET} queries at once`,
            );
          }
        }
        this.receivedQuerySet = newVersion;
        this.pendingQuerySets.push({ newVersion, modifications: modifications as Array<Record<string, unknown>> });
        this.kick();
        return;
      }
      case "Authenticate": {
        const baseVersion = msg.baseVersion;
        if (baseVersion !== this.receivedIdentity) {
          throw new ProtocolError(
            `Invalid Authenticate: base version ${String(baseVersion)}, expected ${this.receivedIdentity}`,
          );
        }
        let auth: Auth;
        if (msg.tokenType === "None") {
          auth = { identity: null, expiresAt: null };
        } else if (msg.tokenType === "User" && typeof msg.value === "string") {
          try {
            const v = await this.server.verifier.verify(msg.value);
            auth = { identity: v.identity, expiresAt: v.expiresAt };
          } catch (e) {
            this.authError((e as Error).message, baseVersion, true);
            return;
          }
        } else if (msg.tokenType === "Admin") {
          this.authError("Admin keys are not supported by the embedded backend", baseVersion, true);
          return;
        } else {
          throw new ProtocolError("Invalid Authenticate message");
        }
        this.receivedIdentity = baseVersion + 1;
        this.auth = auth;
        this.pendingAuth = { auth, version: baseVersion + 1 };
        this.armExpiry(auth);
        this.kick();
        return;
      }
      case "Mutation":
        return this.startMutation(msg);
      case "Action":
        return this.startAction(msg);
      case "Event":
        return;
      default:
        throw new ProtocolError(`Unknown message type ${JSON.stringify(msg.type).slice(0, 40)}`);
    }
  }

  /** Ends the connection with an AuthError when the token expires (the client refreshes). */
  private armExpiry(auth: Auth) {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (auth.expiresAt === null) return;
    const delay = Math.min(auth.expiresAt - Date.now(), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => this.expired(), Math.max(0, delay));
    this.expiryTimer.unref();
  }

  private isExpired(auth: Auth) {
    return auth.expiresAt !== null && auth.expiresAt <= Date.now();
  }

  private expired() {
    this.authError("Token expired", this.receivedIdentity - 1, false);
  }

  private startMutation(msg: Record<string, unknown>) {
    const { requestId, udfPath } = msg as { requestId: number; udfPath: string };
    if (typeof requestId !== "number" || typeof udfPath !== "string" || !Array.isArray(msg.args)) {
      throw new ProtocolError("Invalid Mutation message");
    }
    const auth = this.auth;
    if (this.isExpired(auth)) {
      this.expired();
      return;
    }
    this.admitRequest("TooManyConcurrentMutations", "pending mutations");
    // Outcomes are kept per (identity, session): see the header comment.
    const session = this.server.session(`${identityKey(auth.identity)}\u0000${this.sessionId}`);
    let outcome = session.results.get(requestId);
    if (!outcome) {
      // Runs in order with this connection's other mutations.
      outcome = this.mutations.then(() => this.runMutation(udfPath, msg.args as unknown[], auth));
      this.mutations = outcome.then(() => undefined);
      session.results.set(requestId, outcome);
      if (session.results.size > SESSION_MAX_RESULTS) {
        session.results.delete(session.results.keys().next().value as number);
      }
    }
    void outcome.then((o) => {
      this.inflight--;
      if (o.success) {
        this.send({ type: "MutationResponse", requestId, success: true, result: o.result, ts: encodeTs(o.ts), logLines: [] });
        if (o.ts > this.needTs) this.needTs = o.ts;
        this.kick();
      } else {
        this.send({
          type: "MutationResponse",
          requestId,
          success: false,
          result: o.result,
          logLines: [],
          ...(o.errorData !== undefined ? { errorData: o.errorData } : {}),
        });
      }
    });
  }

  private async runMutation(udfPath: string, rawArgs: unknown[], auth: Auth): Promise<MutationOutcome> {
    try {
      const args = decodeArgs(rawArgs);
      const { value } = await this.server.engine.call("mutation", udfPath, args, this.callOpts(auth));
      // ≥ this mutation's commit ts (later commits only push it forward).
      return { success: true, result: convexToJson(value), ts: this.server.engine.lastCommitTs };
    } catch (e) {
      const fe = toFunctionError(e);
      return { success: false, result: fe.message, ...(fe.data !== undefined ? { errorData: convexToJson(fe.data) } : {}) };
    }
  }

  /** Counts one more request in flight, or ends the connection over the cap (as Convex does). */
  private admitRequest(code: string, what: string) {
    if (this.inflight >= MAX_INFLIGHT_PER_SOCKET) {
      throw new ProtocolError(`${code}: only up to ${MAX_INFLIGHT_PER_SOCKET} ${what} are allowed on a single websocket`);
    }
    this.inflight++;
  }

  private startAction(msg: Record<string, unknown>) {
    const { requestId, udfPath } = msg as { requestId: number; udfPath: string };
    if (typeof requestId !== "number" || typeof udfPath !== "string" || !Array.isArray(msg.args)) {
      throw new ProtocolError("Invalid Action message");
    }
    const auth = this.auth;
    if (this.isExpired(auth)) {
      this.expired();
      return;
    }
    this.admitRequest("TooManyInflightActionsForSingleClient", "actions and mutations in flight");
    void (async () => {
      try {
        const { value } = await this.server.engine.call("action", udfPath, decodeArgs(msg.args as unknown[]), this.callOpts(auth));
        this.send({ type: "ActionResponse", requestId, success: true, result: convexToJson(value), logLines: [] });
      } catch (e) {
        const fe = toFunctionError(e);
        this.send({
          type: "ActionResponse",
          requestId,
          success: false,
          result: fe.message,
          logLines: [],
          ...(fe.data !== undefined ? { errorData: convexToJson(fe.data) } : {}),
        });
      } finally {
        this.inflight--;
      }
    })();
  }

  private callOpts(auth: Auth) {
    return { identity: auth.identity, ip: this.ip, userAgent: this.userAgent };
  }

  invalidate(info: CommitInfo) {
    if (this.closed) return;
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
    if (this.closed) return;
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
        if (this.isExpired(this.appliedAuth)) {
          this.expired();
          return;
        }
        // One Transition on one snapshot. No query to run (a mutation's ts, a
        // removal): the clean results are valid at the current ts as they
        // stand (a commit marks what it affects dirty as it lands). Queries to
        // run: optimistically first — valid when no commit landed while they
        // ran, else nothing is sent and they run again — and after
        // OPTIMISTIC_TRIES conflicts in a row, in a snapshot round that no
        // commit can enter (sync.ts).
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
      } while (this.again && !this.closed);
    } catch (e) {
      this.server.log.error(`sync: flush failed: ${(e as Error).stack ?? String(e)}`);
      this.fatal("Internal error");
    } finally {
      this.flushing = false;
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

  /**
   * Re-runs the dirty queries and sends one Transition. `optimistic`: when a
   * commit landed meanwhile, sends nothing, marks them dirty again and
   * answers false.
   */
  private async pass(step: Step, optimistic: boolean): Promise<boolean> {
    const startTs = this.server.engine.lastCommitTs;
    const reruns: Rerun[] = [];
    for (const [queryId, q] of this.queries) {
      if (!q.dirty) continue;
      q.dirty = false;
      const r = q.args instanceof Error ? q.args : await this.server.runQuery(q.udfPath, q.args, q.argsJson, q.journal, this.callOpts(this.appliedAuth));
      if (this.closed) return true;
      reruns.push(this.rerunResult(queryId, q, r));
    }
    if (optimistic && this.server.engine.lastCommitTs !== startTs) {
      for (const r of reruns) r.q.dirty = true;
      return false;
    }
    const { identity, querySet } = step;
    const modifications = [...step.modifications];
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
    const ts = startTs > this.sent.ts ? startTs : this.sent.ts;
    const needTransition =
      modifications.length > 0 ||
      querySet !== this.sent.querySet ||
      identity !== this.sent.identity ||
      (this.needTs > this.sent.ts && ts >= this.needTs);
    if (needTransition) {
      const end: Version = { querySet, identity, ts };
      this.send({ type: "Transition", startVersion: wireVersion(this.sent), endVersion: wireVersion(end), modifications });
      this.sent = end;
    }
    if (this.needTs > this.sent.ts) this.again = true;
    for (const q of this.queries.values()) if (q.dirty) this.again = true;
    if (this.pendingAuth || this.pendingQuerySets.length > 0) this.again = true;
    return true;
  }

  private applyModification(m: Record<string, unknown>, modifications: Array<Record<string, unknown>>) {
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

  /** One query's new result (or the error of its arguments), not yet applied (see pass). */
  private rerunResult(queryId: number, q: Query, r: SharedResult | Error): Rerun {
    let readSet = emptyReadSet();
    let journal = q.journal;
    let mod: Record<string, unknown>;
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
