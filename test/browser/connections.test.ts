// OAuth connections from the dashboard, in Chromium: Connect → the backend's
// /oauth/start route (reached from the dashboard) → a real OAuth2 server on
// loopback (oauth2-mock-server, which approves at once) → the callback route
// → back on the dashboard, connected; then Disconnect.
import fs from "node:fs";
import path from "node:path";
import { OAuth2Server } from "oauth2-mock-server";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { buildDashboard, launchChromium, SCREENSHOTS, serveDashboard } from "./harness";

const WAIT = { timeout: 15_000 };

let provider: OAuth2Server;
let backend: SpawnedBackend | undefined;
let build: { dir: string; cleanup: () => void };
let web: { url: string; stop: () => Promise<void> };
let browser: Browser;

beforeAll(async () => {
  provider = new OAuth2Server();
  await provider.issuer.keys.generate("RS256");
  await provider.start(0, "127.0.0.1");
  const issuer = provider.issuer.url!;
  build = await buildDashboard();
  // The dashboard's origin must be the backend's SITE_URL, and the backend's
  // URL goes into the dashboard's config: serve first, fill the config in after.
  web = await serveDashboard(build.dir, () => ({ convexUrl: backend?.url ?? "http://127.0.0.1:1" }));
  backend = await spawnBackend({
    env: {
      SITE_URL: web.url,
      KEYHOLE_OAUTH2_NAME: "Acme ID",
      KEYHOLE_OAUTH2_CLIENT_ID: "keyhole-dashboard-test",
      KEYHOLE_OAUTH2_CLIENT_SECRET: "dashboard-test-secret",
      KEYHOLE_OAUTH2_AUTHORIZE_URL: `${issuer}/authorize`,
      KEYHOLE_OAUTH2_TOKEN_URL: `${issuer}/token`,
      KEYHOLE_OAUTH2_REVOCATION_URL: `${issuer}/revoke`,
      KEYHOLE_OAUTH2_USERINFO_URL: `${issuer}/userinfo`,
      KEYHOLE_OAUTH2_DEFAULT_SCOPES: "openid profile",
    },
  });
  browser = await launchChromium();
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  await backend?.stop();
  await provider?.stop();
  build?.cleanup();
});

it("connects an OAuth2 account, lists it live and disconnects it", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await page.goto(web.url);
  await page.getByRole("button", { name: "Create an account" }).click(WAIT);
  await page.getByLabel("Email").fill(`conn-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "API tokens" }).waitFor(WAIT);

  await page.getByRole("link", { name: "Connections" }).click();
  await page.getByText("No connected accounts yet").waitFor(WAIT);
  await page.getByText("Default scopes: openid, profile").waitFor(WAIT);
  await page.getByRole("button", { name: "Connect Acme ID" }).click();

  // Round trip through the provider and back to /connections?connected=oauth2.
  await page.getByText("Acme ID is connected.").waitFor(WAIT);
  expect(new URL(page.url()).search).toBe(""); // the outcome is read once, then cleared
  const row = page.locator("li.row", { hasText: "Acme ID" }).filter({ has: page.getByRole("button", { name: "Disconnect Acme ID" }) });
  await row.waitFor(WAIT);
  await row.getByText("johndoe").waitFor(WAIT);
  await row.getByText("active").waitFor(WAIT);
  await page.screenshot({ path: path.join(SCREENSHOTS, "12-connection-connected.png"), fullPage: true });

  await row.getByRole("button", { name: "Disconnect Acme ID" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Disconnect" }).click();
  await page.getByText("No connected accounts yet").waitFor(WAIT);
}, 60_000);
