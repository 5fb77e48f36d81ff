/**
 * The dashboard as `npm start` serves it.
 *
 * Default: the production build in web/dist, built on first start (and again
 * when web/ or the convex/ files it imports changed), served by a small static
 * server that answers only with files inside web/dist (plus /config.json) and
 * only to allowed Host names (hosts.ts). No server ever serves the data dir:
 * web/dist holds nothing but the build.
 *
 * `--dev-web`: Vite's dev server for people working on the UI, confined by
 * vite.config.ts to web/, node_modules/ and the few convex/ files the app
 * imports (the data dir, env files and keys are denied outright).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { HOST_REFUSED, type HostPolicy } from "./hosts.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/** What the dashboard build depends on (see vite.config.ts and web/src). */
function buildInputs(root: string): string[] {
  return [
    path.join(root, "web", "index.html"),
    path.join(root, "web", "src"),
    path.join(root, "vite.config.ts"),
    path.join(root, "convex", "_generated"),
    path.join(root, "convex", "model", "permissions.ts"),
    path.join(root, "convex", "model", "scopes.ts"),
  ];
}

function newestMtime(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, e)));
  return newest;
}

/** Whether web/dist is missing or older than its sources. */
export function buildIsStale(root: string): boolean {
  const built = newestMtime(path.join(root, "web", "dist", "index.html"));
  return built === 0 || buildInputs(root).some((p) => newestMtime(p) > built);
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`vite build failed (${code}):\n${out}`))));
  });
}

/**
 * Builds web/dist when it is missing or stale: into a temp dir first, then
 * renamed into place, so a server never sees half a build.
 */
export async function ensureDashboardBuilt(root: string, log: (msg: string) => void): Promise<string> {
  const dist = path.join(root, "web", "dist");
  if (!buildIsStale(root)) return dist;
  log("building the dashboard (web/dist)…");
  const tmp = path.join(root, "web", `.dist-${process.pid}-${Date.now()}`);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production" };
  // The build must not bake in a backend: /config.json decides at runtime.
  delete env.VITE_CONVEX_URL;
  delete env.VITE_CONVEX_SITE_URL;
  const vite = path.join(root, "node_modules", "vite", "bin", "vite.js");
  try {
    await run(process.execPath, [vite, "build", "--outDir", tmp, "--emptyOutDir", "--logLevel", "warn"], { cwd: root, env });
    const old = `${dist}.old-${process.pid}`;
    if (fs.existsSync(dist)) fs.renameSync(dist, old);
    try {
      fs.renameSync(tmp, dist);
    } catch (e) {
      // Another `npm start` put a build in place meanwhile: use that one.
      if (!fs.existsSync(path.join(dist, "index.html"))) throw e;
    }
    fs.rmSync(old, { recursive: true, force: true });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dist;
}

/** The file under `dir` a URL path names, or null (never a path outside `dir`). */
export function fileUnder(dir: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.split("?")[0]!);
  } catch {
    return null;
  }
  if (rel.includes("\0")) return null;
  const base = fs.realpathSync(dir);
  const candidate = path.resolve(base, `.${path.posix.normalize(`/${rel}`)}`);
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    return null;
  }
  if (real !== base && !real.startsWith(base + path.sep)) return null;
  return fs.statSync(real).isFile() ? real : null;
}

/** Serves a built dashboard: its files, /config.json, else index.html (single-page app). */
export function serveDashboard(
  dir: string,
  listen: { port: number; host: string },
  config: unknown,
  hosts: HostPolicy,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (!hosts.allows(req.headers.host)) {
      res.writeHead(403, { "Content-Type": "text/plain", Connection: "close" }).end(HOST_REFUSED);
      return;
    }
    const url = req.url ?? "/";
    if (url.split("?")[0] === "/config.json") {
      // Where the dashboard finds the backend (see web/src/config.ts).
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(config));
      return;
    }
    const file = fileUnder(dir, url) ?? path.join(dir, "index.html");
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream", "X-Content-Type-Options": "nosniff" });
    fs.createReadStream(file).on("error", () => res.destroy()).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => resolve(server));
  });
}

/** Starts Vite's dev server (confined by vite.config.ts; KEYHOLE_* env tells it the data dir and hosts). */
export function spawnDevServer(
  root: string,
  opts: { port: number; host: string; dataDir: string; allowedHosts: readonly string[]; env: Record<string, string> },
): ChildProcess {
  const viteBin = path.join(root, "node_modules", "vite", "bin", "vite.js");
  const args = [viteBin, "--port", String(opts.port), "--strictPort", "--host", opts.host, "--clearScreen", "false"];
  return spawn(process.execPath, args, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...opts.env,
      KEYHOLE_DATA_DIR: opts.dataDir,
      KEYHOLE_ALLOWED_HOSTS: opts.allowedHosts.join(","),
    },
  });
}
