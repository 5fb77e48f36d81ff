// The dashboard end to end, in Debian's Chromium driven by playwright-core:
// the production build of web/ served with a /config.json that points it at
// an embedded backend started on free ports. Nothing on screen is reloaded
// between a change made elsewhere (Node client, CLI, another browser) and its
// appearance: each page carries a marker that a reload would wipe.
import fs from "node:fs";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import { makeHome } from "../cli/run";
import type { SpawnedBackend } from "../helpers/backend";
import { type DashboardStack, expectNotReloaded, markPage, SCREENSHOTS, startDashboard } from "./harness";

const EMAIL = `ada-${Date.now()}@example.com`;
const PASSWORD = "correct horse battery";
const WAIT = { timeout: 15_000 };

let stack: DashboardStack;
let backend: SpawnedBackend;
let web: { url: string; stop: () => Promise<void> };
let browser: Browser;
let desktop: BrowserContext;
let page: Page;
const cliHome = makeHome();

beforeAll(async () => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startDashboard();
  ({ backend, web, browser } = stack);
  desktop = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await desktop.grantPermissions(["clipboard-read", "clipboard-write"], { origin: web.url });
  page = await desktop.newPage();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  cliHome.cleanup();
});

async function shot(p: Page, name: string, fullPage = true) {
  await p.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
}

function tokenRow(p: Page, name: string) {
  return p.locator(`tr[data-token-name="${name}"]`);
}

async function signInThroughUi(p: Page, mode: "signIn" | "signUp") {
  await p.goto(web.url);
  await p.getByRole("heading", { name: "Sign in to keyhole" }).waitFor(WAIT);
  if (mode === "signUp") await p.getByRole("button", { name: "Create an account" }).click();
  await p.getByLabel("Email").fill(EMAIL);
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: mode === "signUp" ? "Create account" : "Sign in", exact: true }).click();
  await p.getByRole("heading", { name: "API tokens" }).waitFor(WAIT);
}

/** Creates a token through the dialog and returns the text shown once. */
async function createToken(
  p: Page,
  name: string,
  scope?: { resource: string; perms: string[]; patterns?: string },
  expiry?: "7 days" | "30 days" | "90 days" | "1 year",
) {
  await p.getByRole("button", { name: "New token" }).click();
  const dialog = p.getByRole("dialog", { name: "New token", exact: true });
  await dialog.getByLabel("Name", { exact: true }).fill(name);
  if (expiry) await dialog.getByRole("radio", { name: expiry }).check();
  if (scope) {
    // The form starts with one scope row and nothing checked.
    await dialog.getByLabel("Resource").selectOption(scope.resource);
    for (const perm of scope.perms) await dialog.getByRole("checkbox", { name: new RegExp(`^${perm} `) }).check();
    if (scope.patterns) await dialog.getByLabel(/Item name patterns/).fill(scope.patterns);
  } else {
    await dialog.getByRole("radio", { name: /^Everything my roles allow/ }).check();
  }
  await dialog.getByRole("button", { name: "Create token" }).click();
  const once = p.getByRole("dialog", { name: "Copy your new token" });
  await once.waitFor(WAIT);
  // Copying is what lets "Done" close without asking.
  await once.getByRole("button", { name: "Copy token" }).click();
  await once.getByText("Copied").first().waitFor(WAIT);
  return once;
}

describe("dashboard in Chromium", { timeout: 60_000 }, () => {
  it("signs up, then sets up an organization and a workspace", async () => {
    await page.goto(web.url);
    await page.getByRole("heading", { name: "Sign in to keyhole" }).waitFor(WAIT);
    await shot(page, "01-sign-in");
    await signInThroughUi(page, "signUp");
    await expect.poll(() => page.locator(".who").textContent(), WAIT).toBe(EMAIL);
    await page.getByText("No tokens yet").waitFor(WAIT);

    await page.getByRole("link", { name: "Organizations" }).click();
    await page.getByText("You're not in any organization yet").waitFor(WAIT);
    await page.getByLabel("Name").fill("Acme");
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.getByRole("heading", { name: "Acme", exact: true }).waitFor(WAIT);
    await page.getByLabel("New workspace").fill("site");
    await page.getByRole("button", { name: "Create workspace" }).click();
    await page.getByText("acme/site", { exact: true }).waitFor(WAIT);
    await shot(page, "02-organizations");
  });

  let token = "";
  it("creates a token with a scope and shows its text once, then drops it", async () => {
    await page.getByRole("link", { name: "Tokens" }).click();

    // Inline validation: nothing is sent while the form is invalid.
    await page.getByRole("button", { name: "New token" }).click();
    const dialog = page.getByRole("dialog", { name: "New token", exact: true });
    await dialog.getByRole("button", { name: "Create token" }).click();
    await dialog.getByText("Give the token a name.").waitFor(WAIT);
    await dialog.getByLabel("Name", { exact: true }).fill("has spaces");
    await dialog.getByText("Use 1–64 letters, digits").waitFor(WAIT);
    // Something was typed: Cancel asks before throwing it away.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("dialog", { name: "Discard this new token?" }).getByRole("button", { name: "Discard" }).click();
    await dialog.waitFor({ state: "detached" });

    // The scope builder offers only what my role grants in acme, and only what fits one workspace.
    await page.getByRole("button", { name: "New token" }).click();
    await dialog.getByLabel("Resource").selectOption("acme/site");
    expect(await dialog.getByRole("checkbox", { name: /^work:write / }).count()).toBe(1);
    expect(await dialog.getByRole("checkbox", { name: /^connections:use / }).count()).toBe(0);
    expect(await dialog.getByRole("checkbox", { name: /^members:write / }).count()).toBe(0);
    await dialog.getByRole("button", { name: "Cancel" }).click();

    const once = await createToken(page, "agent-bot", { resource: "acme/site", perms: ["work:read", "work:write"], patterns: "Signal/*" });
    await once.getByText("you won't be able to see it again").waitFor(WAIT);
    token = await once.getByLabel(/Your new token/).inputValue();
    expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    await once.getByRole("button", { name: "Copy token" }).waitFor(WAIT);
    await shot(page, "03-token-once-view", false);
    await once.getByRole("button", { name: "Done" }).click();
    await once.waitFor({ state: "detached" });
    // Gone from the page once closed.
    expect(await page.content()).not.toContain(token);

    const row = tokenRow(page, "agent-bot");
    await row.waitFor(WAIT);
    expect(await row.getAttribute("data-status")).toBe("active");
    await row.getByText("acme/site").waitFor(WAIT);
    await row.getByText("work: read, write").waitFor(WAIT);
    await row.getByText("Signal/*").waitFor(WAIT);
    // Not used yet: "none recorded", never "never".
    await expect.poll(() => row.locator('td[data-label="Last use"]').textContent(), WAIT).toContain("none recorded");
  });

  it("shows the token's last use live after Node uses it", async () => {
    await markPage(page);
    const agent = new ConvexHttpClient(backend.url, { logger: false });
    agent.setAuth(token);
    await agent.mutation(api.items.put, { workspace: "acme/site", name: "Signal/temp-1", data: { celsius: 21 } });

    const lastUsed = tokenRow(page, "agent-bot").locator('td[data-label="Last use"]');
    await expect.poll(() => lastUsed.textContent(), WAIT).toContain("just now");
    // IP and user agent of that request, from the token's record.
    await expect.poll(() => lastUsed.textContent(), WAIT).toContain("127.0.0.1");
    await expectNotReloaded(page);
    await shot(page, "04-tokens-last-used");
  });

  it("shows `revoked` live when the CLI revokes the token", async () => {
    const env = { KEYHOLE_URL: backend.url };
    const login = await cliHome.run(["login", "--email", EMAIL], { env, input: `${PASSWORD}\n` });
    expect(login.code, login.stderr).toBe(0);
    const revoke = await cliHome.run(["token", "revoke", "--name", "agent-bot"], { env });
    expect(revoke.code, revoke.stderr).toBe(0);

    // The default view shows active tokens only: the revoked one leaves it live.
    await tokenRow(page, "agent-bot").waitFor({ state: "detached", ...WAIT });
    await expectNotReloaded(page);
    await page.getByRole("radio", { name: "Revoked" }).check();
    const row = tokenRow(page, "agent-bot");
    await expect.poll(() => row.getAttribute("data-status"), WAIT).toBe("revoked");
    await row.locator(".cell-status").getByText("revoked").waitFor(WAIT);
    expect(await row.getByRole("button", { name: /Revoke/ }).count()).toBe(0);
    await page.getByRole("radio", { name: "All" }).check();

    // And the token itself no longer works.
    const agent = new ConvexHttpClient(backend.url, { logger: false });
    agent.setAuth(token);
    await expect(agent.mutation(api.items.put, { workspace: "acme/site", name: "Signal/temp-2", data: 1 })).rejects.toThrow(/revoked/);
  });

  it("a fresh 7-day token is not 'expires soon'; it is revoked after confirmation", async () => {
    const once = await createToken(page, "short-lived", undefined, "7 days");
    await once.getByRole("button", { name: "Done" }).click();
    const row = tokenRow(page, "short-lived");
    await row.getByText("in 7 days").waitFor(WAIT);
    expect(await row.getByText("expires soon").count()).toBe(0);
    await row.getByRole("button", { name: "Revoke short-lived" }).click();
    const confirm = page.getByRole("dialog", { name: "Revoke “short-lived”?" });
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await row.getAttribute("data-status")).toBe("active");
    await row.getByRole("button", { name: "Revoke short-lived" }).click();
    await confirm.getByRole("button", { name: "Revoke token" }).click();
    await expect.poll(() => row.getAttribute("data-status"), WAIT).toBe("revoked");
  });

  it("lists an agent session live and ends it", async () => {
    const once = await createToken(page, "ci-runner");
    const pat = await once.getByLabel(/Your new token/).inputValue();
    await once.getByRole("button", { name: "Done" }).click();
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Agent sessions" }).click();
    await page.getByText("No live agent sessions").waitFor(WAIT);
    await markPage(page);

    const agent = new ConvexHttpClient(backend.url, { logger: false });
    agent.setAuth(pat);
    const session = await agent.mutation(api.auth.createSession, {
      agentId: "deploy-bot",
      ttl: 3600,
      metadata: { platform: "github-actions", purpose: "release" },
    });
    const card = page.getByRole("article", { name: "deploy-bot" });
    await card.waitFor(WAIT);
    await card.getByText("from token ci-runner").waitFor(WAIT);
    await card.getByText("github-actions").waitFor(WAIT);
    await shot(page, "05-agent-sessions");

    await card.getByRole("button", { name: /^End session of deploy-bot/ }).click();
    await page.getByRole("dialog").getByRole("button", { name: "End session" }).click();
    await page.getByText("No live agent sessions").waitFor(WAIT);
    await expectNotReloaded(page);
    const check = new ConvexHttpClient(backend.url, { logger: false });
    expect((await check.query(api.auth.validateSession, { token: session.token })).valid).toBe(false);
  });

  it("signs out the other devices: the other browser drops to the sign-in screen", async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    try {
      const otherPage = await other.newPage();
      await signInThroughUi(otherPage, "signIn");
      await markPage(otherPage);

      await page.getByRole("link", { name: "Devices" }).click();
      const rows = page.locator("li[data-current]");
      await expect.poll(() => rows.count(), WAIT).toBeGreaterThanOrEqual(2);
      expect(await page.locator('li[data-current="true"]').count()).toBe(1);
      await page.locator('li[data-current="true"]').getByText("This device").waitFor(WAIT);
      await shot(page, "06-devices");

      await page.getByRole("button", { name: "Sign out all other devices" }).click();
      await page.getByRole("dialog").getByRole("button", { name: /^Sign out \d+ devices?$/ }).click();
      await expect.poll(() => rows.count(), WAIT).toBe(1);
      expect(await rows.first().getAttribute("data-current")).toBe("true");

      // The other browser learns it live and shows the sign-in screen.
      await otherPage.getByRole("heading", { name: "Sign in to keyhole" }).waitFor(WAIT);
      await otherPage.getByText("You were signed out").waitFor(WAIT);
      await expectNotReloaded(otherPage);
      await shot(otherPage, "07-signed-out-elsewhere");

      // This one is still signed in and working.
      await page.getByRole("link", { name: "Tokens" }).click();
      await tokenRow(page, "ci-runner").waitFor(WAIT);
    } finally {
      await other.close();
    }
  });

  it("shows connections and the audit log", async () => {
    await page.getByRole("link", { name: "Connections" }).click();
    await page.getByRole("heading", { name: "OAuth connections" }).waitFor(WAIT);
    await page.getByText("No connected accounts yet").waitFor(WAIT);
    await shot(page, "08-connections");

    await page.getByRole("link", { name: "Audit log" }).click();
    const audit = page.locator("table.audit");
    await audit.waitFor(WAIT);
    await audit.getByText("token.created").first().waitFor(WAIT);
    await shot(page, "09-audit-log");
  });

  it("works at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Tokens" }).click();
    await page.getByRole("radio", { name: "Active" }).check();
    await tokenRow(page, "ci-runner").waitFor(WAIT);
    // The table becomes labelled cards: no horizontal scrolling.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "10-phone-tokens");
    await page.getByRole("button", { name: "New token" }).click();
    await page.getByRole("dialog", { name: "New token", exact: true }).getByRole("button", { name: "+ Add scope" }).waitFor(WAIT);
    await shot(page, "11-phone-create-token", false);
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it("signs out and back in", async () => {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByRole("heading", { name: "Sign in to keyhole" }).waitFor(WAIT);
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").getByText(/incorrect|Couldn't sign in/).waitFor(WAIT);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await tokenRow(page, "ci-runner").waitFor(WAIT);
  });
});
