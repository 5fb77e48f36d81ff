/**
 * `npm start` — the embedded backend plus the dashboard, one banner, Ctrl-C
 * stops everything.
 *
 * Dashboard (local/dashboard.ts): the production build in web/dist, built on
 * first start or when its sources changed; `--dev-web` runs Vite's dev server
 * instead (confined to web/). Both answer only to allowed Host names.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import type http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { backendOptions, parseFlagsOrExit } from "./args.js";
import { ensureDashboardBuilt, serveDashboard, spawnDevServer } from "./dashboard.js";
import { hostPolicy, parseHostList, urlHostNames } from "./hosts.js";
import { installConsoleRedaction } from "./log.js";
import { startBackend, type Backend } from "./backend.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

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

type Flags = ReturnType<typeof parseFlagsOrExit>;
/** The dashboard's servers: Vite's dev server (a child) or the static one; `null` once gone. */
type Web = { label: string; vite: ChildProcess | null; staticServer: http.Server | null };

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
  const state = { stopping: false };
  const web = await startDashboard(flags, backend, host, webUrl, () => state.stopping);
  printBanner(web.label, backend);
  const stop = async (signal: string) => {
    if (state.stopping) process.exit(1);
    state.stopping = true;
    console.log(`\n[keyhole] ${signal}: stopping…`);
    web.staticServer?.close();
    await Promise.all([stopVite(web), backend.close()]);
    console.log("[keyhole] stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/** Serves the dashboard as the flags say; `label` is what the banner shows for it. */
async function startDashboard(flags: Flags, backend: Backend, host: string, webUrl: string, stopping: () => boolean): Promise<Web> {
  const web: Web = { label: "(none: web/ has no index.html)", vite: null, staticServer: null };
  const githubSignIn = Boolean(process.env.AUTH_GITHUB_ID && process.env.AUTH_GITHUB_SECRET);
  const allowedHosts = [
    ...(flags.allowedHosts ?? parseHostList(process.env.KEYHOLE_ALLOWED_HOSTS)),
    ...urlHostNames([process.env.SITE_URL]),
  ];
  const hasWebApp = fs.existsSync(path.join(root, "web", "index.html"));
  if (flags.noWeb) {
    web.label = "(disabled by --no-web)";
  } else if (hasWebApp && flags.devWeb) {
    const vite = spawnDevServer(root, {
      port: flags.webPort,
      host,
      dataDir: backend.dataDir,
      allowedHosts,
      env: {
        VITE_CONVEX_URL: backend.url,
        VITE_CONVEX_SITE_URL: backend.siteUrl,
        ...(githubSignIn ? { VITE_GITHUB_SIGN_IN: "true" } : {}),
      },
    });
    web.vite = vite;
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
      if (!stopping()) console.error(`[keyhole] the dashboard dev server exited (code ${code}); the backend keeps running`);
      web.vite = null;
    });
    web.label = (await waitForPort(flags.webPort, host, 30_000)) ? `${webUrl} (dev server)` : `${webUrl} (not answering yet)`;
  } else if (hasWebApp) {
    try {
      const dist = await ensureDashboardBuilt(root, (m) => console.log(`[keyhole] ${m}`));
      web.staticServer = await serveDashboard(dist, { port: flags.webPort, host }, { convexUrl: backend.url, githubSignIn }, hostPolicy(allowedHosts));
      web.label = webUrl;
    } catch (e) {
      console.error(`[keyhole] the dashboard is not served: ${(e as Error).message}`);
      web.label = "(not served: see the error above)";
    }
  }
  return web;
}

function printBanner(dashboard: string, backend: Backend) {
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
}

/** Stops Vite's dev server: SIGTERM, then SIGKILL after 3 s. */
function stopVite(web: Web): Promise<void> {
  const vite = web.vite;
  if (!vite) return Promise.resolve();
  return new Promise<void>((r) => {
    vite.once("exit", () => r());
    vite.kill("SIGTERM");
    setTimeout(() => {
      web.vite?.kill("SIGKILL");
      r();
    }, 3000).unref();
  });
}

void main();
