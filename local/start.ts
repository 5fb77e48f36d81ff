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
  const allowedHosts = [
    ...(flags.allowedHosts ?? parseHostList(process.env.KEYHOLE_ALLOWED_HOSTS)),
    ...urlHostNames([process.env.SITE_URL]),
  ];
  let vite: ChildProcess | null = null;
  let staticServer: http.Server | null = null;
  let dashboard = "(none: web/ has no index.html)";
  const hasWebApp = fs.existsSync(path.join(root, "web", "index.html"));
  if (flags.noWeb) {
    dashboard = "(disabled by --no-web)";
  } else if (hasWebApp && flags.devWeb) {
    vite = spawnDevServer(root, {
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
    dashboard = (await waitForPort(flags.webPort, host, 30_000)) ? `${webUrl} (dev server)` : `${webUrl} (not answering yet)`;
  } else if (hasWebApp) {
    try {
      const dist = await ensureDashboardBuilt(root, (m) => console.log(`[keyhole] ${m}`));
      staticServer = await serveDashboard(dist, { port: flags.webPort, host }, { convexUrl: backend.url, githubSignIn }, hostPolicy(allowedHosts));
      dashboard = webUrl;
    } catch (e) {
      console.error(`[keyhole] the dashboard is not served: ${(e as Error).message}`);
      dashboard = "(not served: see the error above)";
    }
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
