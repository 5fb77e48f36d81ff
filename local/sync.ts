/**
 * The WebSocket sync protocol of ConvexClient / ConvexReactClient
 * (node_modules/convex/src/browser/sync/protocol.ts is the source of truth).
 *
 * Per connection we keep the versions the client tracks — query set,
 * identity, timestamp — and only ever send a Transition whose startVersion is
 * exactly the last endVersion we sent (the client throws otherwise).
 *
 * - ModifyQuerySet / Authenticate are applied in the order received, at the
 *   start of the next Transition, so a Transition's endVersion always
 *   describes a query set and identity whose results it carries.
 * - A commit marks the live queries whose read set it touches as dirty; the
 *   connection re-runs them and sends what changed. A Transition claims
 *   ts = the last commit *before* it started re-running, so a result is never
 *   older than its claimed ts (any later commit just triggers another round).
 * - A successful MutationResponse carries the commit ts; the client resolves
 *   the mutation only once a Transition reaches that ts, so we always follow
 *   it with one (empty if nothing changed).
 * - Mutations are idempotent per (identity, sessionId, requestId): a client
 *   re-sends in-flight and completed mutations after a reconnect, and gets
 *   the recorded outcome instead of a second execution. Convex records the
 *   identity with each outcome (get-convex/convex-backend:
 *   crates/model/src/session_requests/); we also key by it, so a socket that
 *   borrows someone's session id never receives their results.
 * - Each Transition is computed on one snapshot (snapshot.ts) and carries
 *   pagination journals (pagination.ts).
 * - Caps per socket (query-set size, message size, in-flight requests): the
 *   offending socket gets a FatalError and is closed; no one else notices.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, WebSocket, type RawData } from "ws";
import { convexToJson, jsonToConvex, type Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { affects, emptyReadSet, toFunctionError, type CommitInfo, type Engine, type ReadSet } from "./engine.js";
import type { IdentityVerifier } from "./identity.js";
import type { Logger } from "./log.js";
import { decodeJournal, encodeJournal } from "./pagination.js";

export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Live queries one socket may hold. */
export const MAX_QUERIES_PER_SOCKET = 1000;
/**
 * Mutations + actions one socket may have in flight: Convex's
 * OPERATION_QUEUE_BUFFER_SIZE (crates/sync/src/worker.rs, errors
 * TooManyConcurrentMutations / TooManyInflightActionsForSingleClient).
 */
export const MAX_INFLIGHT_PER_SOCKET = 1000;
const PING_MS = 15_000;
const SESSION_TTL_MS = 10 * 60_000;
const SESSION_MAX_RESULTS = 1000;

export function encodeTs(ts: bigint): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(ts < 0n ? 0n : ts);
  return b.toString("base64");
}

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
type Version = { querySet: number; identity: number; ts: bigint };
type Auth = { identity: UserIdentity | null; expiresAt: number | null };
type SharedResult = { ok: true; value: Value; readSet: ReadSet } | { ok: false; error: unknown; readSet: ReadSet };
type MutationOutcome =
  | { success: true; result: unknown; ts: bigint }
  | { success: false; result: string; errorData?: unknown };

class ProtocolError extends Error {}

export class SyncServer {
  private wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  readonly connections = new Set<Connection>();
  /** sessionId → requestId → outcome (for idempotent re-sends). */
  readonly sessions = new Map<string, { touched: number; results: Map<number, Promise<MutationOutcome>> }>();
  private sweeper: NodeJS.Timeout;

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

  onCommit(info: CommitInfo) {
    for (const [k, v] of this.shared) if (v.ts < info.ts) this.shared.delete(k);
    for (const c of this.connections) c.invalidate(info);
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

export function clientIp(req: IncomingMessage): string | null {
  const a = req.socket.remoteAddress ?? null;
  return a && a.startsWith("::ffff:") ? a.slice(7) : a;
}

/** Whose mutation outcomes these are: the token's `iss|sub`, or no one. */
function identityKey(identity: UserIdentity | null): string {
  return identity ? `user:${identity.tokenIdentifier}` : "anonymous";
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

class Connection {
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
        await this.server.engine.onSnapshot(() => this.pass());
      } while (this.again && !this.closed);
    } catch (e) {
      this.server.log.error(`sync: flush failed: ${(e as Error).stack ?? String(e)}`);
      this.fatal("Internal error");
    } finally {
      this.flushing = false;
    }
  }

  /** Computes and sends one Transition; runs on one snapshot (see flush). */
  private async pass() {
    const startTs = this.server.engine.lastCommitTs;
    const modifications: Array<Record<string, unknown>> = [];
    let identity = this.sent.identity;
    let querySet = this.sent.querySet;

    if (this.pendingAuth) {
      this.appliedAuth = this.pendingAuth.auth;
      identity = this.pendingAuth.version;
      this.pendingAuth = null;
      for (const q of this.queries.values()) q.dirty = true;
    }
    for (const qs of this.pendingQuerySets.splice(0)) {
      for (const m of qs.modifications) this.applyModification(m, modifications);
      querySet = qs.newVersion;
    }
    if (this.isExpired(this.appliedAuth)) {
      this.expired();
      return;
    }
    await this.rerunDirty(modifications);
    if (this.closed) return;

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

  /** Re-runs the dirty queries; appends what changed to `modifications`. */
  private async rerunDirty(modifications: Array<Record<string, unknown>>) {
    for (const [queryId, q] of this.queries) {
      if (!q.dirty) continue;
      q.dirty = false;
      let readSet = emptyReadSet();
      let journal = q.journal;
      let mod: Record<string, unknown>;
      let json: string;
      try {
        if (q.args instanceof Error) throw q.args;
        const r = await this.server.runQuery(q.udfPath, q.args, q.argsJson, q.journal, this.callOpts(this.appliedAuth));
        readSet = r.readSet;
        if (!r.ok) throw r.error;
        journal = r.readSet.journal?.next ?? null;
        const encoded = convexToJson(r.value);
        const wireJournal = encodeJournal(q.udfPath, q.argsJson, journal);
        json = "V" + JSON.stringify(encoded) + "\u0000" + (wireJournal ?? "");
        mod = { type: "QueryUpdated", queryId, value: encoded, logLines: [], journal: wireJournal };
      } catch (e) {
        const fe = toFunctionError(e);
        const errorData = fe.data !== undefined ? convexToJson(fe.data) : undefined;
        json = "E" + fe.message + "\u0000" + JSON.stringify(errorData ?? null);
        mod = { type: "QueryFailed", queryId, errorMessage: fe.message, logLines: [], journal: encodeJournal(q.udfPath, q.argsJson, journal) };
        if (errorData !== undefined) mod.errorData = errorData;
      }
      if (this.closed) return;
      // The query may have been removed meanwhile (it is re-added later).
      if (this.queries.get(queryId) !== q) continue;
      q.readSet = readSet;
      q.journal = journal;
      if (json !== q.lastJson) {
        q.lastJson = json;
        modifications.push(mod);
      }
    }
  }
}

function wireVersion(v: Version) {
  return { querySet: v.querySet, identity: v.identity, ts: encodeTs(v.ts) };
}

/** `[argsObject]` (the wire format) → Convex value; throws on anything else. */
export function decodeArgs(args: unknown): Record<string, Value> {
  const raw = Array.isArray(args) ? (args.length === 0 ? {} : args[0]) : args;
  if (Array.isArray(args) && args.length > 1) throw new Error("Expected a single arguments object");
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new Error("The arguments to a Convex function must be an object");
  return jsonToConvex(raw as never) as Record<string, Value>;
}
