/**
 * The embedded local backend: serves convex/ to the official Convex clients.
 *
 *   API port (3210)   POST /api/query|mutation|action|function (ConvexHttpClient)
 *                     WS   /api/<version>/sync                  (ConvexClient)
 *   site port (3211)  HTTP actions from convex/http.ts
 *
 * `startBackend()` is the programmatic entry point (tests, local/main.ts).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { convexToJson, type Value } from "convex/values";
import type { UserIdentity } from "convex/server";
import { Engine, toFunctionError, type UdfKind } from "./engine.js";
import { legacyIssuer } from "../convex/model/issuer.js";
import { HOST_REFUSED, hostPolicy, parseHostList, urlHostNames } from "./hosts.js";
import { endCounterSignIns } from "./ids.js";
import { applyEnv, loadOrCreateEnvFile } from "./env.js";
import { AuthError, IdentityVerifier, providersOf } from "./identity.js";
import { createLogger, type Logger } from "./log.js";
import { buildModuleMap } from "./modules.js";
import { Scheduler } from "./scheduler.js";
import { compact, Journal, lockDataDir, readStore } from "./store.js";
import { clientIp, decodeArgs, encodeTs, SyncServer } from "./sync.js";

export const MAX_BODY_BYTES = 8 * 1024 * 1024;
const here = path.dirname(fileURLToPath(import.meta.url));

export type BackendOptions = {
  /** API + sync port; 0 picks a free one. Default 3210. */
  port?: number;
  /** HTTP actions port; 0 picks a free one. Default 3211. */
  sitePort?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /**
   * Host names served besides IP literals and localhost (hosts.ts). Default:
   * KEYHOLE_ALLOWED_HOSTS. The names of CONVEX_SITE_URL / SITE_URL are added.
   */
  allowedHosts?: string[];
  /** Where data, journal and env.json live. Default `.keyhole`. */
  dataDir?: string;
  /** The Convex functions folder. Default: the repo's convex/. */
  convexDir?: string;
  /** Extra env for functions (beats env.json; the real environment beats both). */
  env?: Record<string, string>;
  /** Logger; default prints to stdout/stderr with secrets redacted. */
  logger?: Logger;
  quiet?: boolean;
};

export type Backend = {
  url: string;
  siteUrl: string;
  port: number;
  sitePort: number;
  dataDir: string;
  engine: Engine;
  /** Milliseconds from call to ready. */
  startupMs: number;
  close(): Promise<void>;
};

// t.fetch builds its Request on the fake host `some.convex.site`; while we
// serve a site request, rewrite that origin to the one the client used, so
// HTTP actions see the real URL (request.url) too.
const siteOrigin = new AsyncLocalStorage<string>();
let requestPatched = false;
function patchRequestUrl() {
  if (requestPatched) return;
  requestPatched = true;
  const Original = globalThis.Request;
  class SiteRequest extends Original {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      const origin = siteOrigin.getStore();
      if (origin && input instanceof URL && input.host === "some.convex.site") {
        input = new URL(input.pathname + input.search, origin);
      }
      super(input, init);
    }
    static [Symbol.hasInstance](x: unknown) {
      return x instanceof Original;
    }
  }
  globalThis.Request = SiteRequest as typeof Request;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      reject(new HttpError(413, "RequestTooLarge", `Request body is larger than ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, "RequestTooLarge", `Request body is larger than ${limit} bytes`));
        return; // keep draining so the response can be read by the client
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) reject(e);
      failed = true;
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function corsHeaders(req: IncomingMessage, res: ServerResponse) {
  const origin = req.headers.origin;
  res.setHeader("Access-Control-Allow-Origin", typeof origin === "string" ? origin : "*");
  res.setHeader("Vary", "Origin");
  res.setHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  res.setHeader("Access-Control-Allow-Headers", "Content-Type, Authorization, Convex-Client");
  res.setHeader("Access-Control-Max-Age", "86400");
}

const API_KINDS: Record<string, UdfKind | "any"> = {
  "/api/query": "query",
  "/api/query_at_ts": "query",
  "/api/mutation": "mutation",
  "/api/action": "action",
  "/api/function": "any",
};

function hostForUrl(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startBackend(options: BackendOptions = {}): Promise<Backend> {
  const t0 = performance.now();
  const log = options.logger ?? createLogger({ quiet: options.quiet });
  const host = options.host ?? "127.0.0.1";
  const dataDir = path.resolve(options.dataDir ?? ".keyhole");
  const convexDir = path.resolve(options.convexDir ?? path.join(here, "..", "convex"));
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(dataDir);

  // Bind first (ports may be 0) — CONVEX_SITE_URL depends on the site port and
  // must be in process.env before convex/ is imported. Requests that arrive
  // meanwhile wait for `ready`.
  let markReady!: () => void;
  let markFailed!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    markReady = res;
    markFailed = rej;
  });
  ready.catch(() => {});
  let state: { engine: Engine; verifier: IdentityVerifier; sync: SyncServer; siteUrl: string } | null = null;
  const hostNames = options.allowedHosts ?? parseHostList(process.env.KEYHOLE_ALLOWED_HOSTS);
  let hosts = hostPolicy(hostNames);

  const apiServer = http.createServer((req, res) => void handleApi(req, res));
  const siteServer = http.createServer((req, res) => void handleSite(req, res));
  for (const s of [apiServer, siteServer]) {
    s.on("clientError", (_err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
    s.keepAliveTimeout = 5_000;
  }
  apiServer.on("upgrade", (req, socket, head) => {
    socket.on("error", () => socket.destroy());
    const url = req.url ?? "";
    if (!/^\/api\/[^/]+\/sync(\?|$)/.test(url)) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    ready.then(
      () => {
        if (!hosts.allows(req.headers.host)) {
          socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${HOST_REFUSED}`);
          return;
        }
        state!.sync.handleUpgrade(req, socket, head);
      },
      () => socket.destroy(),
    );
  });

  let port: number, sitePort: number;
  try {
    port = await listen(apiServer, options.port ?? 3210, host);
    sitePort = await listen(siteServer, options.sitePort ?? 3211, host);
  } catch (e) {
    apiServer.close();
    siteServer.close();
    unlock();
    throw e;
  }
  const url = `http://${hostForUrl(host)}:${port}`;
  const derivedSiteUrl = `http://${hostForUrl(host)}:${sitePort}`;

  let engine: Engine;
  let scheduler: Scheduler;
  let journal: Journal;
  try {
    const { env: fileEnv, created } = await loadOrCreateEnvFile(dataDir, {
      legacyIssuer: legacyIssuer(options.env?.CONVEX_SITE_URL ?? process.env.CONVEX_SITE_URL ?? derivedSiteUrl),
    });
    if (created) log.info(`generated secrets for the functions in ${path.join(dataDir, "env.json")}`);
    applyEnv(fileEnv, options.env, { CONVEX_SITE_URL: derivedSiteUrl });
    const siteUrl = (process.env.CONVEX_SITE_URL ?? derivedSiteUrl).replace(/\/+$/, "");
    hosts = hostPolicy([...hostNames, ...urlHostNames([siteUrl, process.env.SITE_URL])]);

    patchRequestUrl();
    engine = await Engine.create(buildModuleMap(convexDir));

    // Durable state: replay, compact, then journal every commit.
    const restored = readStore(dataDir, log);
    engine.restore(restored);
    // Compact: fold the journal into a fresh snapshot (nothing to fold after a
    // start with no writes since the last one).
    const docs =
      restored.journalRecords > 0 || restored.tornBytes > 0 || !fs.existsSync(path.join(dataDir, "snapshot.jsonl"))
        ? compact(dataDir, engine.documents(), engine.counters())
        : restored.documents.size;
    journal = new Journal(dataDir);
    engine.journal = journal;
    engine.onFatal = (err) => {
      log.error(`cannot write the journal (${err.message}); stopping so no unsaved write is acknowledged`);
      process.exit(70);
    };
    if (restored.journalRecords > 0 || docs > 0) {
      log.info(`restored ${docs} document(s) (${restored.journalRecords} journal record(s) replayed)`);
    }
    // A data dir from before random ids: its sign-ins' ids were guessable.
    const ended = await endCounterSignIns(engine);
    if (ended.sessions + ended.refreshTokens > 0) {
      log.warn(
        `upgraded a data dir made with guessable document ids: ended ${ended.sessions} sign-in(s) and ` +
          `${ended.refreshTokens} refresh token(s); everyone signs in again (all other data is kept)`,
      );
    }

    const authConfig = (await engine.loadModule("auth.config"))?.default;
    const siteOriginUrl = new URL(siteUrl).origin;
    const verifier = new IdentityVerifier(providersOf(authConfig), async (u) => {
      const target = new URL(u);
      if (target.origin === siteOriginUrl || target.origin === new URL(derivedSiteUrl).origin) {
        // Our own site: straight through the router, no socket.
        const r = await siteOrigin.run(target.origin, () => engine.fetch(target.pathname + target.search, { method: "GET" }));
        return { status: r.status, text: await r.text() };
      }
      const r = await fetch(u, { signal: AbortSignal.timeout(10_000) });
      return { status: r.status, text: await r.text() };
    });
    const sync = new SyncServer(engine, verifier, log);
    engine.onCommit((info) => sync.onCommit(info));

    scheduler = new Scheduler(engine, log);
    const resumed = await scheduler.resumeScheduledFunctions();
    if (resumed > 0) log.info(`re-armed ${resumed} scheduled function(s)`);
    const crons = await scheduler.startCrons();
    if (crons > 0) log.info(`started ${crons} cron job(s)`);

    state = { engine, verifier, sync, siteUrl };
    markReady();
    // Compile the rest of convex/ in the background (first calls get faster).
    void engine.preloadAll();
  } catch (e) {
    markFailed(e as Error);
    await new Promise<void>((r) => apiServer.close(() => r()));
    await new Promise<void>((r) => siteServer.close(() => r()));
    unlock();
    throw e;
  }

  /**
   * The request's identity. `/api/*` (strict) refuses a rejected token with
   * 401 as Convex does (crates/local_backend/src/authentication.rs,
   * ExtractIdentity). An HTTP action runs anyway, with the rejection kept so
   * its getUserIdentity() throws (rejected.ts); as on Convex, any
   * Authorization header that is not a valid `Bearer <JWT>` counts
   * (ExtractAuthenticationToken refuses other schemes).
   */
  async function identityFrom(req: IncomingMessage, strict: boolean): Promise<{ identity: UserIdentity | null; rejected?: string }> {
    const h = req.headers.authorization;
    if (h === undefined) return { identity: null };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) {
      const message = "Unsupported Authorization header (expected `Bearer <JWT>`)";
      if (strict) throw new HttpError(401, "Unauthenticated", message);
      return { identity: null, rejected: message };
    }
    try {
      return { identity: (await state!.verifier.verify(m[1]!)).identity };
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      if (strict) throw new HttpError(401, "Unauthenticated", e.message);
      return { identity: null, rejected: e.message };
    }
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse) {
    try {
      await ready;
      if (refuseHost(req, res)) return;
      corsHeaders(req, res);
      const pathname = (req.url ?? "/").split("?")[0]!;
      if (req.method === "OPTIONS") {
        res.writeHead(204).end();
        return;
      }
      if (req.method === "GET" && (pathname === "/" || pathname === "/version" || pathname === "/instance_name")) {
        res.writeHead(200, { "Content-Type": "text/plain" }).end(
          pathname === "/" ? "This Convex deployment (keyhole embedded backend) is running.\n" : "keyhole-local",
        );
        return;
      }
      if (pathname === "/api/query_ts" && req.method === "POST") {
        await readBody(req, MAX_BODY_BYTES);
        sendJson(res, 200, { ts: encodeTs(state!.engine.lastCommitTs) });
        return;
      }
      const kind = API_KINDS[pathname];
      if (!kind) throw new HttpError(404, "NotFound", `No route for ${req.method} ${pathname}`);
      if (req.method !== "POST") throw new HttpError(405, "MethodNotAllowed", `Use POST for ${pathname}`);
      const raw = await readBody(req, MAX_BODY_BYTES);
      let body: { path?: unknown; args?: unknown; format?: unknown };
      try {
        body = JSON.parse(raw.toString("utf8")) as typeof body;
      } catch (e) {
        throw new HttpError(400, "BadJsonBody", `Invalid JSON body: ${(e as Error).message}`);
      }
      if (!body || typeof body !== "object" || typeof body.path !== "string") {
        throw new HttpError(400, "BadRequest", "Request body must be a JSON object with a string `path`");
      }
      if (body.format !== undefined && body.format !== "convex_encoded_json" && body.format !== "json") {
        throw new HttpError(400, "BadRequest", `Unsupported format ${JSON.stringify(body.format)}`);
      }
      let args: Record<string, Value>;
      try {
        args = decodeArgs(body.args);
      } catch (e) {
        throw new HttpError(400, "BadRequest", `Invalid args: ${(e as Error).message}`);
      }
      const { identity } = await identityFrom(req, true);
      try {
        const { value } = await state!.engine.call(kind, body.path, args, {
          identity,
          ip: clientIp(req),
          userAgent: req.headers["user-agent"] ?? null,
        });
        sendJson(res, 200, { status: "success", value: convexToJson(value), logLines: [] });
      } catch (e) {
        const fe = toFunctionError(e);
        if (fe.status === 400) {
          throw new HttpError(400, "BadRequest", fe.message);
        }
        sendJson(res, 560, {
          status: "error",
          errorMessage: fe.message,
          ...(fe.data !== undefined ? { errorData: convexToJson(fe.data) } : {}),
          logLines: [],
        });
      }
    } catch (e) {
      if (e instanceof HttpError) {
        sendJson(res, e.status, { code: e.code, message: e.message });
      } else {
        log.error(`api: ${(e as Error).stack ?? String(e)}`);
        sendJson(res, 500, { code: "InternalServerError", message: "Internal server error" });
      }
    }
  }

  /** Answers 403 to a foreign Host name (hosts.ts); true when it did. */
  function refuseHost(req: IncomingMessage, res: ServerResponse): boolean {
    if (hosts.allows(req.headers.host)) return false;
    res.writeHead(403, { "Content-Type": "text/plain", Connection: "close" }).end(HOST_REFUSED);
    return true;
  }

  async function handleSite(req: IncomingMessage, res: ServerResponse) {
    try {
      await ready;
      if (refuseHost(req, res)) return;
      const method = req.method ?? "GET";
      const body = method === "GET" || method === "HEAD" ? undefined : await readBody(req, MAX_BODY_BYTES);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || ["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"].includes(k)) continue;
        for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
      }
      const { identity, rejected } = await identityFrom(req, false);
      const origin = `http://${req.headers.host ?? new URL(state!.siteUrl).host}`;
      const response = await siteOrigin.run(origin, () =>
        state!.engine.fetch(
          req.url ?? "/",
          { method, headers, body: body as BodyInit | undefined },
          { identity, rejected, ip: clientIp(req), userAgent: req.headers["user-agent"] ?? null },
        ),
      );
      const outHeaders: Record<string, string | string[]> = {};
      response.headers.forEach((value, key) => {
        if (key !== "set-cookie") outHeaders[key] = value;
      });
      const cookies = response.headers.getSetCookie();
      if (cookies.length > 0) outHeaders["set-cookie"] = cookies;
      delete outHeaders["content-length"];
      delete outHeaders["content-encoding"];
      res.writeHead(response.status, response.statusText, outHeaders);
      if (response.body && method !== "HEAD") {
        // Streamed (e.g. server-sent events); stop when the client goes away.
        const reader = response.body.getReader();
        res.on("close", () => void reader.cancel().catch(() => {}));
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (!res.write(value)) await new Promise((r) => res.once("drain", r));
        }
      }
      res.end();
    } catch (e) {
      if (e instanceof HttpError) {
        sendJson(res, e.status, { code: e.code, message: e.message });
        return;
      }
      const fe = toFunctionError(e);
      log.error(`http action ${req.method} ${(req.url ?? "").split("?")[0]}: ${fe.message}`);
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "text/plain" }).end("Server Error");
      } else {
        res.destroy();
      }
    }
  }

  let closed = false;
  return {
    url,
    siteUrl: state.siteUrl,
    port,
    sitePort,
    dataDir,
    engine,
    startupMs: Math.round(performance.now() - t0),
    async close() {
      if (closed) return;
      closed = true;
      scheduler.stop();
      state!.sync.close();
      apiServer.closeAllConnections();
      siteServer.closeAllConnections();
      await Promise.all([
        new Promise<void>((r) => apiServer.close(() => r())),
        new Promise<void>((r) => siteServer.close(() => r())),
      ]);
      // Let in-flight transactions finish before the journal closes.
      await engine.transact(() => null).catch(() => {});
      engine.journal = null;
      journal.close();
      unlock();
    },
  };
}
