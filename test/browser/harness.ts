/**
 * Serves the production build of the dashboard for browser tests:
 * `buildDashboard()` runs Vite's build once into a temp dir (web/dist is left
 * alone), `serveDashboard(dir, convexUrl)` serves it on a free 127.0.0.1 port
 * with the `/config.json` that points it at the test's backend, and
 * `launchChromium()` starts a Chromium through playwright-core: a system one
 * when there is one, else the one the `@sparticuz/chromium` package ships
 * (see ./chromium.ts).
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect } from "vitest";
import { spawnBackend, type SpawnedBackend, type SpawnOptions } from "../helpers/backend";
import { findChromium, type FindOptions } from "./chromium";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function buildDashboard(): Promise<{ dir: string; cleanup: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-web-"));
  // The runtime /config.json must decide the backend, not a build-time value.
  delete process.env.VITE_CONVEX_URL;
  // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    const { build } = await import("vite");
    await build({
      configFile: path.join(root, "vite.config.ts"),
      mode: "production",
      logLevel: "warn",
      build: { outDir: dir, emptyOutDir: true },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

export type FileConfig = { convexUrl: string; githubSignIn?: boolean };

/** `config` may be a function: read on every request (when the backend starts after the server). */
export async function serveDashboard(
  dir: string,
  config: FileConfig | (() => FileConfig),
): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (pathname === "/config.json") {
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(typeof config === "function" ? config() : config));
      return;
    }
    let file = path.join(dir, path.normalize(pathname));
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      file = path.join(dir, "index.html");
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function launchChromium(opts: FindOptions = {}): Promise<Browser> {
  const found = await findChromium(opts);
  return await chromium.launch({
    executablePath: found.executablePath,
    env: { ...process.env, ...found.env },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
  });
}

export const SCREENSHOTS = path.join(root, "test-results", "screenshots");

export type DashboardStack = {
  backend: SpawnedBackend;
  build: { dir: string; cleanup: () => void };
  web: { url: string; stop: () => Promise<void> };
  browser: Browser;
  /** Closes Chromium, stops the dashboard server and the backend, removes the build. */
  stop: () => Promise<void>;
};

/**
 * A browser test's stack: the embedded backend (`opts`) and the dashboard's
 * production build, made side by side; the build served against the backend;
 * Chromium. What started is stopped again if a later part fails to start.
 */
export async function startDashboard(opts: SpawnOptions = {}): Promise<DashboardStack> {
  const stops: (() => unknown)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const [started, built] = await Promise.allSettled([spawnBackend(opts), buildDashboard()]);
    if (started.status === "fulfilled") stops.push(() => started.value.stop());
    if (built.status === "fulfilled") stops.push(() => built.value.cleanup());
    if (started.status === "rejected") throw started.reason;
    if (built.status === "rejected") throw built.reason;
    const [backend, build] = [started.value, built.value];
    const web = await serveDashboard(build.dir, { convexUrl: backend.url });
    stops.push(() => web.stop());
    const browser = await launchChromium();
    stops.push(() => browser.close());
    return { backend, build, web, browser, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Marks the page once it has loaded: `expectNotReloaded` later proves nothing reloaded it in between. */
export async function markPage(p: Page) {
  await p.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
}
export async function expectNotReloaded(p: Page) {
  expect(await p.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
}
