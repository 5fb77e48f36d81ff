/**
 * The embedded local backend: serves convex/ to the official Convex clients.
 *
 *   API port (3210)   POST /api/query|mutation|action|function (ConvexHttpClient)
 *                     WS   /api/<version>/sync                  (ConvexClient)
 *   site port (3211)  HTTP actions from convex/http.ts
 *
 * `startBackend()` is the programmatic entry point (tests, local/main.ts).
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { handleApi } from "./api.js";
import { boot, type Booted } from "./boot.js";
import type { Engine } from "./engine.js";
import { HOST_REFUSED, parseHostList } from "./hosts.js";
import { createLogger, type Logger } from "./log.js";
import { closeServer, hostForUrl, listen } from "./request.js";
import { handleSite } from "./site.js";
import { lockDataDir } from "./store.js";
import type { SyncServer } from "./sync.js";

export { MAX_BODY_BYTES } from "./request.js";
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
  /** Live queries over the sync socket (tests count its work: `sync.work`). */
  sync: SyncServer;
  /** Milliseconds from call to ready. */
  startupMs: number;
  close(): Promise<void>;
};

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
  // meanwhile wait for the boot.
  let markBooted!: (b: Booted) => void;
  let markFailed!: (e: Error) => void;
  const booted = new Promise<Booted>((res, rej) => {
    markBooted = res;
    markFailed = rej;
  });
  booted.catch(() => {});
  const hostNames = options.allowedHosts ?? parseHostList(process.env.KEYHOLE_ALLOWED_HOSTS);
  const { apiServer, siteServer } = createServers(booted, log);

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
  const derivedSiteUrl = `http://${hostForUrl(host)}:${sitePort}`;

  let b: Booted;
  try {
    b = await boot({ dataDir, convexDir, derivedSiteUrl, hostNames, env: options.env, log });
    markBooted(b);
    // Compile the rest of convex/ in the background (first calls get faster).
    void b.engine.preloadAll();
  } catch (e) {
    markFailed(e as Error);
    await closeServer(apiServer);
    await closeServer(siteServer);
    unlock();
    throw e;
  }

  let closed = false;
  return {
    url: `http://${hostForUrl(host)}:${port}`,
    siteUrl: b.siteUrl,
    port,
    sitePort,
    dataDir,
    engine: b.engine,
    sync: b.sync,
    startupMs: Math.round(performance.now() - t0),
    async close() {
      if (closed) return;
      closed = true;
      b.scheduler.stop();
      b.sync.close();
      apiServer.closeAllConnections();
      siteServer.closeAllConnections();
      await Promise.all([closeServer(apiServer), closeServer(siteServer)]);
      // Let in-flight transactions finish before the journal closes.
      await b.engine.transact(() => null).catch(() => {});
      b.engine.journal = null;
      b.journal.close();
      unlock();
    },
  };
}

/** The two servers; their requests wait for `booted`. */
function createServers(booted: Promise<Booted>, log: Logger) {
  const apiServer = http.createServer((req, res) => void handleApi(booted, log, req, res));
  const siteServer = http.createServer((req, res) => void handleSite(booted, log, req, res));
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
    booted.then(
      (b) => {
        if (!b.hosts.allows(req.headers.host)) {
          socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${HOST_REFUSED}`);
          return;
        }
        b.sync.handleUpgrade(req, socket, head);
      },
      () => socket.destroy(),
    );
  });
  return { apiServer, siteServer };
}
