/**
 * One sync connection (see sync.ts for the protocol rules it keeps).
 */
import { randomUUID } from "node:crypto";
import { WebSocket, type RawData } from "ws";
import { convexToJson } from "convex/values";
import type { UserIdentity } from "convex/server";
import { toFunctionError, type CommitInfo, type ReadSet } from "./engine.js";
import { isExpired, LiveQueries, type Auth } from "./livequeries.js";
import type { SyncServer } from "./sync.js";
import {
  decodeArgs,
  encodeTs,
  MAX_INFLIGHT_PER_SOCKET,
  MAX_QUERIES_PER_SOCKET,
  PING_MS,
  SESSION_MAX_RESULTS,
} from "./wire.js";

export type MutationOutcome =
  | { success: true; result: unknown; ts: bigint }
  | { success: false; result: string; errorData?: unknown };
type Request = { requestId: number; udfPath: string; args: unknown[]; auth: Auth };

class ProtocolError extends Error {}

/** Whose mutation outcomes these are: the token's `iss|sub`, or no one. */
function identityKey(identity: UserIdentity | null): string {
  return identity ? `user:${identity.tokenIdentifier}` : "anonymous";
}

export class Connection {
  private receivedQuerySet = 0;
  private receivedIdentity = 0;
  /** Identity for mutations/actions: the latest accepted Authenticate. */
  private auth: Auth = { identity: null, expiresAt: null };
  /** Query ids as of the ModifyQuerySet messages received (for the cap). */
  private receivedQueryIds = new Set<number>();
  private readonly live: LiveQueries;
  /** Mutations and actions sent and not answered yet. */
  private inflight = 0;
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
    this.live = new LiveQueries(server, {
      sendText: (text) => this.sendText(text),
      isClosed: () => this.closed,
      expired: () => this.expired(),
      fatal: (error) => this.fatal(error),
      ip,
      userAgent,
    });
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

  /** A commit landed: re-run the live queries it can change. */
  invalidate(info: CommitInfo, checked: Map<ReadSet, boolean>) {
    this.live.invalidate(info, checked);
  }

  private send(msg: Record<string, unknown>) {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.sendText(JSON.stringify(msg));
  }

  private sendText(text: string) {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.lastSend = Date.now();
    this.ws.send(text);
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
      case "ModifyQuerySet":
        return this.modifyQuerySet(msg);
      case "Authenticate":
        return this.authenticate(msg);
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

  private modifyQuerySet(msg: Record<string, unknown>) {
    const { baseVersion, newVersion, modifications } = msg as {
      baseVersion: unknown;
      newVersion: unknown;
      modifications: unknown;
    };
    if (baseVersion !== this.receivedQuerySet || typeof newVersion !== "number" || !Array.isArray(modifications)) {
      throw new ProtocolError(`Invalid ModifyQuerySet: base version ${String(baseVersion)}, expected ${this.receivedQuerySet}`);
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
        throw new ProtocolError(`TooManyQueries: a connection may subscribe to at most ${MAX_QUERIES_PER_SOCKET} queries at once`);
      }
    }
    this.receivedQuerySet = newVersion;
    this.live.queueQuerySet(newVersion, modifications as Array<Record<string, unknown>>);
  }

  private async authenticate(msg: Record<string, unknown>) {
    const baseVersion = msg.baseVersion;
    if (baseVersion !== this.receivedIdentity) {
      throw new ProtocolError(`Invalid Authenticate: base version ${String(baseVersion)}, expected ${this.receivedIdentity}`);
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
    this.armExpiry(auth);
    this.live.queueAuth(auth, baseVersion + 1);
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

  private expired() {
    this.authError("Token expired", this.receivedIdentity - 1, false);
  }

  /**
   * A Mutation or Action message, checked and counted as in flight; null when
   * the token has expired (the connection is ending).
   */
  private admitRequest(msg: Record<string, unknown>, what: "Mutation" | "Action"): Request | null {
    const { requestId, udfPath, args } = msg as { requestId: number; udfPath: string; args: unknown[] };
    if (typeof requestId !== "number" || typeof udfPath !== "string" || !Array.isArray(args)) {
      throw new ProtocolError(`Invalid ${what} message`);
    }
    const auth = this.auth;
    if (isExpired(auth)) {
      this.expired();
      return null;
    }
    // The caps and their wording, as Convex's.
    const [code, which] =
      what === "Mutation"
        ? ["TooManyConcurrentMutations", "pending mutations"]
        : ["TooManyInflightActionsForSingleClient", "actions and mutations in flight"];
    if (this.inflight >= MAX_INFLIGHT_PER_SOCKET) {
      throw new ProtocolError(`${code}: only up to ${MAX_INFLIGHT_PER_SOCKET} ${which} are allowed on a single websocket`);
    }
    this.inflight++;
    return { requestId, udfPath, args, auth };
  }

  private startMutation(msg: Record<string, unknown>) {
    const r = this.admitRequest(msg, "Mutation");
    if (!r) return;
    // Outcomes are kept per (identity, session): see the header comment.
    const session = this.server.session(`${identityKey(r.auth.identity)}\u0000${this.sessionId}`);
    let outcome = session.results.get(r.requestId);
    if (!outcome) {
      // Runs in order with this connection's other mutations.
      outcome = this.mutations.then(() => this.runMutation(r));
      this.mutations = outcome.then(() => undefined);
      session.results.set(r.requestId, outcome);
      if (session.results.size > SESSION_MAX_RESULTS) {
        session.results.delete(session.results.keys().next().value as number);
      }
    }
    void outcome.then((o) => {
      this.inflight--;
      if (o.success) {
        const { result, ts } = o;
        this.send({ type: "MutationResponse", requestId: r.requestId, success: true, result, ts: encodeTs(ts), logLines: [] });
        this.live.reachTs(ts);
      } else {
        this.send({ type: "MutationResponse", requestId: r.requestId, ...o, logLines: [] });
      }
    });
  }

  private async runMutation(r: Request): Promise<MutationOutcome> {
    try {
      const { value } = await this.server.engine.call("mutation", r.udfPath, decodeArgs(r.args), this.callOpts(r.auth));
      // ≥ this mutation's commit ts (later commits only push it forward).
      return { success: true, result: convexToJson(value), ts: this.server.engine.lastCommitTs };
    } catch (e) {
      return failure(e);
    }
  }

  private startAction(msg: Record<string, unknown>) {
    const r = this.admitRequest(msg, "Action");
    if (!r) return;
    void (async () => {
      try {
        const { value } = await this.server.engine.call("action", r.udfPath, decodeArgs(r.args), this.callOpts(r.auth));
        this.send({ type: "ActionResponse", requestId: r.requestId, success: true, result: convexToJson(value), logLines: [] });
      } catch (e) {
        this.send({ type: "ActionResponse", requestId: r.requestId, ...failure(e), logLines: [] });
      } finally {
        this.inflight--;
      }
    })();
  }

  private callOpts(auth: Auth) {
    return { identity: auth.identity, ip: this.ip, userAgent: this.userAgent };
  }
}

/** A failed mutation or action as its response carries it. */
function failure(e: unknown): { success: false; result: string; errorData?: unknown } {
  const fe = toFunctionError(e);
  return { success: false, result: fe.message, ...(fe.data !== undefined ? { errorData: convexToJson(fe.data) } : {}) };
}
