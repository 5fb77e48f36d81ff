/**
 * Starts the embedded backend in a child process on free 127.0.0.1 ports.
 *
 *   const b = await spawnBackend();            // fresh temp data dir
 *   const http = new ConvexHttpClient(b.url);
 *   ...
 *   await b.stop();                            // SIGTERM, waits, removes its temp dir
 *
 *   b.kill("SIGKILL"); await b.exited;         // crash it
 *   const b2 = await b.respawn();              // same data dir, same ports (so the same
 *                                              // CONVEX_SITE_URL: old tokens stay valid)
 *
 * `logs()` returns everything the child printed (stdout + stderr).
 * Children are killed when the test process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import WebSocket from "ws";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export type SpawnOptions = {
  /** Data dir to use (kept on stop). Default: a fresh temp dir (removed on stop). */
  dataDir?: string;
  /** Extra env for the functions (overrides env.json). */
  env?: Record<string, string>;
  /** Fixed ports; default 0 = free ports. */
  port?: number;
  sitePort?: number;
  /** A different functions folder (e.g. a test fixture). Default: convex/. */
  convexDir?: string;
  /**
   * Startup timeout (ms). Default 90 s: it takes a few seconds, but a loaded
   * 2-core machine (test files in parallel, a Vite build beside it) stretches
   * it past 30 s.
   */
  timeoutMs?: number;
  /** Extra node flags for the child (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  execArgv?: string[];
};

export type SpawnedBackend = {
  url: string;
  siteUrl: string;
  pid: number;
  dataDir: string;
  /** Start-up time reported by the backend (ms). */
  startupMs: number;
  /** Resolves with the exit code (or signal name) when the child exits. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
  /** Graceful stop (SIGTERM, then SIGKILL after 5 s); removes a temp data dir it created. */
  stop(): Promise<void>;
  /**
   * Starts a new backend on the same data dir and ports (stop or kill this one
   * first). The temp data dir, if this one owned it, is now owned by the new one.
   */
  respawn(opts?: Omit<SpawnOptions, "dataDir" | "port" | "sitePort">): Promise<SpawnedBackend>;
  logs(): string;
  /** Official clients pointed at this backend. */
  httpClient(token?: string): ConvexHttpClient;
  client(): ConvexClient;
};

// Env the functions get from the backend's env.json; never inherit a test
// process's values (test/helpers/env.ts sets some for convex-test).
const STRIP = [
  "CONVEX_SITE_URL",
  "SITE_URL",
  "JWT_PRIVATE_KEY",
  "JWKS",
  "KEYHOLE_SIGNING_KEY",
  "KEYHOLE_ENCRYPTION_KEYS",
  "KEYHOLE_ISSUER",
];

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export async function spawnBackend(opts: SpawnOptions = {}): Promise<SpawnedBackend> {
  let ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-test-"));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of STRIP) delete env[k];
  Object.assign(env, opts.env ?? {});
  const child = spawn(
    process.execPath,
    [
      ...(opts.execArgv ?? []),
      "--import",
      "tsx",
      path.join(root, "local", "main.ts"),
      "--port",
      String(opts.port ?? 0),
      "--site-port",
      String(opts.sitePort ?? 0),
      "--data-dir",
      dataDir,
      ...(opts.convexDir ? ["--convex-dir", opts.convexDir] : []),
    ],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  live.add(child);
  let output = "";
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
  });
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const ready = await new Promise<{ url: string; siteUrl: string; startupMs: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running: the caller never gets a handle to stop it.
      child.kill("SIGKILL");
      if (ownsDir) void exited.then(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      reject(new Error(`backend did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /KEYHOLE_READY (\{.*\})/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]!) as { url: string; siteUrl: string; startupMs: number });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`backend exited (${code}) before it was ready:\n${output}`));
    });
  });

  const clients: ConvexClient[] = [];
  const takeOwnership = () => {
    ownsDir = true;
  };
  const stop = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    }
    if (ownsDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const handle = {
    url: ready.url,
    siteUrl: ready.siteUrl,
    startupMs: ready.startupMs,
    pid: child.pid!,
    dataDir,
    async respawn(more = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        throw new Error("respawn(): stop or kill the running backend first");
      }
      const next = await spawnBackend({
        ...opts,
        ...more,
        dataDir,
        port: Number(new URL(ready.url).port),
        sitePort: Number(new URL(ready.siteUrl).port),
      });
      if (ownsDir) {
        ownsDir = false;
        (next as { _ownDir?: () => void })._ownDir?.();
      }
      return next;
    },
    exited,
    kill: (signal: NodeJS.Signals = "SIGTERM") => void child.kill(signal),
    stop,
    logs: () => output,
    httpClient(token?: string) {
      const c = new ConvexHttpClient(ready.url, { logger: false });
      if (token) c.setAuth(token);
      return c;
    },
    client() {
      const c = new ConvexClient(ready.url, {
        webSocketConstructor: WebSocket as unknown as typeof globalThis.WebSocket,
        logger: false,
        unsavedChangesWarning: false,
      });
      clients.push(c);
      return c;
    },
    _ownDir: takeOwnership,
  };
  return handle;
}
