/**
 * The browser harness needs nothing but npm: with CHROMIUM_PATH pointing
 * nowhere and the system paths ignored, it launches the Chromium that
 * `@sparticuz/chromium` ships and opens the dashboard with it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { findChromium } from "./chromium";
import { buildDashboard, launchChromium, serveDashboard } from "./harness";

const hidden = { env: { CHROMIUM_PATH: path.join(os.tmpdir(), "no-such-chromium") }, systemPaths: [] };
let browser: Browser | undefined;
let backend: SpawnedBackend;
let build: { dir: string; cleanup: () => void };
let site: { url: string; stop: () => Promise<void> };

beforeAll(async () => {
  [backend, build] = await Promise.all([spawnBackend(), buildDashboard()]);
  site = await serveDashboard(build.dir, { convexUrl: backend.url });
});

afterAll(async () => {
  await browser?.close();
  await site?.stop();
  build?.cleanup();
  await backend?.stop();
});

test("with no system Chromium, the bundled one is found and its binary exists", async () => {
  expect(fs.existsSync(hidden.env.CHROMIUM_PATH)).toBe(false);
  const found = await findChromium(hidden);
  expect(found.source).toBe("@sparticuz/chromium");
  expect(fs.statSync(found.executablePath).isFile()).toBe(true);
  expect(found.executablePath).not.toMatch(/^\/usr\//);
});

test("CHROMIUM_PATH wins when it names a file", async () => {
  const bundled = await findChromium(hidden);
  const found = await findChromium({ env: { CHROMIUM_PATH: bundled.executablePath }, systemPaths: [] });
  expect(found).toEqual({ executablePath: bundled.executablePath, source: "CHROMIUM_PATH" });
});

test("the bundled Chromium opens the dashboard", async () => {
  browser = await launchChromium(hidden);
  const page = await browser.newPage();
  await page.goto(site.url);
  await expect.poll(() => page.getByRole("heading", { name: "Sign in to keyhole" }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
  expect(await page.title()).toMatch(/keyhole/i);
});
