/**
 * `npm start` — the embedded backend plus the dashboard, one banner, Ctrl-C
 * stops everything.
 *
 * Dashboard: the Vite dev server when web/index.html exists, otherwise a
 * static server for web/dist when it was built, otherwise none.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { backendOptions, parseFlagsOrExit } from "./args.js";
import { installConsoleRedaction } from "./log.js";
import { startBackend, type Backend } from "./backend.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

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

function serveStatic(dir: string, port: number, host: string, config: unknown): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? "/").split("?")[0]!);
    if (rel === "/config.json") {
      // Where the dashboard finds the backend (see web/src/config.ts).
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(config));
      return;
    }
    let file = path.join(dir, path.normalize(rel).replace(/^(\.\.[/\\])+/, ""));
    if (!file.startsWith(dir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      file = path.join(dir, "index.html"); // single-page app fallback
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

function waitForPort(port: number, host: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const attempt = () => {
      const s = net.connect(port, host);
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > deadline) resolve(false);
        else setTimeout(attempt, 150);
      });
    };
    attempt();
  });
}

async function main() {
  installConsoleRedaction();
  const flags = parseFlagsOrExit(process.argv.slice(2));
  const host = flags.host === "0.0.0.0" ? "127.0.0.1" : flags.host;
  const webUrl = `http://${host}:${flags.webPort}`;
  let backend: Backend;
  try {
    backend = await startBackend({
      ...backendOptions(flags),
      env: flags.webPort !== 5173 ? { SITE_URL: webUrl } : undefined,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(
      err.code === "EADDRINUSE"
        ? `[keyhole] error: ${err.message} — is keyhole already running? Use --port/--site-port.`
        : `[keyhole] error: ${err.stack ?? err.message}`,
    );
    process.exit(1);
  }

  const githubSignIn = Boolean(process.env.AUTH_GITHUB_ID && process.env.AUTH_GITHUB_SECRET);
  let vite: ChildProcess | null = null;
  let staticServer: http.Server | null = null;
  let dashboard = "(none: web/ has no index.html)";
  const hasViteApp = fs.existsSync(path.join(root, "web", "index.html"));
  const dist = path.join(root, "web", "dist");
  if (!flags.noWeb && hasViteApp) {
    const viteBin = path.join(root, "node_modules", "vite", "bin", "vite.js");
    const useRootConfig = fs.existsSync(path.join(root, "vite.config.ts"));
    const args = [viteBin, ...(useRootConfig ? [] : ["web"]), "--port", String(flags.webPort), "--strictPort", "--host", host, "--clearScreen", "false"];
    vite = spawn(process.execPath, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        VITE_CONVEX_URL: backend.url,
        VITE_CONVEX_SITE_URL: backend.siteUrl,
        ...(githubSignIn ? { VITE_GITHUB_SIGN_IN: "true" } : {}),
      },
    });
    const prefix = (chunk: Buffer) =>
      chunk
        .toString()
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => `[web] ${l}\n`)
        .join("");
    vite.stdout!.on("data", (c: Buffer) => process.stdout.write(prefix(c)));
    vite.stderr!.on("data", (c: Buffer) => process.stderr.write(prefix(c)));
    vite.on("exit", (code) => {
      if (!stopping) console.error(`[keyhole] the dashboard dev server exited (code ${code}); the backend keeps running`);
      vite = null;
    });
    dashboard = (await waitForPort(flags.webPort, host, 30_000)) ? webUrl : `${webUrl} (not answering yet)`;
  } else if (!flags.noWeb && fs.existsSync(path.join(dist, "index.html"))) {
    staticServer = await serveStatic(dist, flags.webPort, host, { convexUrl: backend.url, githubSignIn });
    dashboard = `${webUrl} (web/dist)`;
  } else if (flags.noWeb) {
    dashboard = "(disabled by --no-web)";
  }

  const line = "─".repeat(64);
  console.log(
    [
      "",
      line,
      "  keyhole is running (embedded local backend)",
      "",
      `  Dashboard      ${dashboard}`,
      `  Convex API     ${backend.url}   ConvexHttpClient / ConvexClient`,
      `  HTTP actions   ${backend.siteUrl}   convex/http.ts (CONVEX_SITE_URL)`,
      `  Data           ${backend.dataDir}`,
      `  Started in     ${backend.startupMs} ms`,
      "",
      "  Ctrl-C stops everything.",
      line,
      "",
    ].join("\n"),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`\n[keyhole] ${signal}: stopping…`);
    const exited = vite
      ? new Promise<void>((r) => {
          vite!.once("exit", () => r());
          vite!.kill("SIGTERM");
          setTimeout(() => {
            vite?.kill("SIGKILL");
            r();
          }, 3000).unref();
        })
      : Promise.resolve();
    staticServer?.close();
    await Promise.all([exited, backend.close()]);
    console.log("[keyhole] stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

void main();
