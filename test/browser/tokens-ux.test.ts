// Issue 17 in Chromium, part 1: creating tokens and reading the token list as
// GitHub and Unkey users expect — the explicit scope choice, permissions in
// words, focus rules, guarded dialogs, the once-view with MCP configurations,
// search/sort/IDs, honest times, the phone layout, and a keyboard-only
// creation of a scoped token. axe-core (WCAG 2.2 AA + best practice) on every
// screen and dialog here, with screenshots at desktop and phone width.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { ConvexHttpClient } from "convex/browser";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import type { SpawnedBackend } from "../helpers/backend";
import { PASSWORD, passwordSignUp } from "../helpers/signup";
import { checkScreen, DESKTOP, expectAxeClean, focusedName, PHONE, tabTo } from "./a11y";
import { type DashboardStack, startDashboard } from "./harness";

const EMAIL = `grace-${Date.now()}@example.com`;
const WAIT = { timeout: 15_000 };

let stack: DashboardStack;
let backend: SpawnedBackend;
let build: { dir: string; cleanup: () => void };
let web: { url: string; stop: () => Promise<void> };
let browser: Browser;
let context: BrowserContext;
let page: Page;
let me: ConvexHttpClient;

beforeAll(async () => {
  stack = await startDashboard();
  ({ backend, build, web, browser } = stack);
  context = await browser.newContext({ viewport: DESKTOP });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: web.url });
  page = await context.newPage();
  const { token } = await passwordSignUp(backend, EMAIL);
  me = backend.httpClient(token);
  await me.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await me.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const newTokenDialog = () => page.getByRole("dialog", { name: "New token", exact: true });
const onceDialog = () => page.getByRole("dialog", { name: "Copy your new token", exact: true });
const row = (name: string) => page.locator(`tr[data-token-name="${name}"]`);
const myTokens = async () => (await me.query(api.auth.listApiTokens, { status: "all" })).tokens;

async function openNewToken() {
  await page.getByRole("button", { name: "New token", exact: true }).click();
  await newTokenDialog().waitFor(WAIT);
  // Wait for the organizations to load into the first scope row.
  await expect.poll(() => newTokenDialog().getByLabel("Resource").inputValue(), WAIT).toBe("acme/site");
}

describe("tokens, as GitHub and Unkey users expect them", { timeout: 90_000 }, () => {
  it("the production JS stays under 250 KB gzipped (the chart's uPlot included)", () => {
    const assets = path.join(build.dir, "assets");
    const js = fs.readdirSync(assets).filter((f) => f.endsWith(".js"));
    const gz = js.reduce((sum, f) => sum + zlib.gzipSync(fs.readFileSync(path.join(assets, f))).length, 0);
    expect(js.length).toBeGreaterThanOrEqual(2); // the chart is its own chunk, loaded with a token's detail view
    expect(gz).toBeLessThanOrEqual(250 * 1024);
  });


  it("signs in (the sign-in screen is axe-clean at both widths)", async () => {
    await page.goto(web.url);
    await checkScreen(page, "issue17-sign-in", () => page.getByRole("heading", { name: "Sign in to keyhole" }).waitFor(WAIT));
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor(WAIT);
    await checkScreen(page, "issue17-tokens-empty", () => page.getByText("No tokens yet").waitFor(WAIT));
  });

  it("item 2: Enter after a name makes no token — the scope choice is explicit, in words, by tier, with 24 px targets", async () => {
    await openNewToken();
    // Item 3: the dialog opens on its first field, not on ×.
    expect(await focusedName(page)).toBe("Name");
    await page.keyboard.type("enter-only");
    await page.keyboard.press("Enter");
    const dialog = newTokenDialog();
    await dialog.getByText("Choose at least one permission, or remove this scope.").waitFor(WAIT);
    expect(await myTokens()).toHaveLength(0);
    // Focus went to the first thing to fix: the first permission of the empty scope.
    expect(await focusedName(page)).toMatch(/^workspace:read See workspaces$/);

    // Permissions are described in visible words; one workspace offers only workspace permissions.
    await dialog.getByText("Read items", { exact: true }).waitFor(WAIT);
    const names = async () =>
      await dialog.getByRole("checkbox").evaluateAll((els) => els.map((e) => (e as HTMLInputElement).labels![0].innerText.split(/\s/)[0]));
    expect(await names()).toEqual(["workspace:read", "workspace:configure", "work:read", "work:write"]);
    await dialog.getByLabel("Resource").selectOption("acme");
    expect(await names()).toContain("members:write");
    expect(await names()).not.toContain("tokens:read");
    await dialog.getByLabel("Resource").selectOption("");
    expect(await names()).toContain("tokens:read");

    // Touch targets of at least 24 px: permissions, access choices, expiry presets.
    const heights = await dialog.locator(".check, .choice, .seg span").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    expect(heights.length).toBeGreaterThan(10);
    expect(Math.min(...heights)).toBeGreaterThanOrEqual(24);

    // Full role only when picked, with a warning in words.
    await dialog.getByRole("radio", { name: /^Everything my roles allow/ }).check();
    await dialog.getByText("This token can do everything you can").waitFor(WAIT);
    await dialog.getByRole("radio", { name: /^Only the permissions I choose/ }).check();
    await dialog.getByRole("checkbox", { name: /^work:read / }).check();
    await checkScreen(page, "issue17-create-token-dialog", () => dialog.getByRole("checkbox", { name: /^work:read / }).waitFor(WAIT), {
      fullPage: false,
    });
  });

  it("item 3: + Add scope focuses the new row, Remove leaves focus in place, Escape on a filled form asks first", async () => {
    const dialog = newTokenDialog();
    await dialog.getByRole("button", { name: "+ Add scope" }).click();
    const scope2 = dialog.getByRole("group", { name: "Scope 2" });
    expect(await scope2.getByLabel("Resource").evaluate((el) => el === document.activeElement)).toBe(true);
    await scope2.getByRole("button", { name: "Remove scope 2" }).click();
    expect(await focusedName(page)).toBe("Remove scope 1");
    await page.keyboard.press("Enter"); // remove scope 1 too
    expect(await focusedName(page)).toBe("+ Add scope");

    // Escape with a name typed: asked first, focus on "Keep editing"; keeping edits keeps the name.
    await page.keyboard.press("Escape");
    const ask = page.getByRole("dialog", { name: "Discard this new token?" });
    await ask.waitFor(WAIT);
    expect(await focusedName(page)).toBe("Keep editing");
    await expectAxeClean(page, "discard confirmation");
    await page.keyboard.press("Enter");
    await ask.waitFor({ state: "detached" });
    expect(await dialog.getByLabel("Name", { exact: true }).inputValue()).toBe("enter-only");
    await page.keyboard.press("Escape");
    await ask.getByRole("button", { name: "Discard" }).click();
    await dialog.waitFor({ state: "detached" });
    // Focus returns to the button that opened the dialog.
    expect(await focusedName(page)).toBe("New token");
    expect(await myTokens()).toHaveLength(0);
  });

  it("keyboard only: a scoped token from the token list to the copied once-view", async () => {
    await page.getByRole("heading", { name: "API tokens" }).click(); // a neutral start; everything below is keys
    await tabTo(page, /^New token$/);
    await page.keyboard.press("Enter");
    await newTokenDialog().waitFor(WAIT);
    await expect.poll(() => newTokenDialog().getByLabel("Resource").inputValue(), WAIT).toBe("acme/site");
    expect(await focusedName(page)).toBe("Name");
    await page.keyboard.type("kbd-reader");
    await tabTo(page, /^work:read Read items$/);
    await page.keyboard.press("Space");
    await tabTo(page, /^Create token$/);
    await page.keyboard.press("Enter");
    await onceDialog().waitFor(WAIT);
    const token = await onceDialog().getByLabel(/Your new token/).inputValue();
    expect(await focusedName(page)).toMatch(/^Your new token/);
    await tabTo(page, /^Copy token$/);
    await page.keyboard.press("Enter");
    await onceDialog().getByText("Copied", { exact: true }).waitFor(WAIT);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    // Copied: Escape closes without asking, and the token is gone from the page.
    await page.keyboard.press("Escape");
    await onceDialog().waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(token);
    const [created] = await myTokens();
    expect(created).toMatchObject({ name: "kbd-reader", scopes: [{ resource: "acme/site", permissions: ["work:read"] }], hint: token.slice(-6) });
  });

  let mcpToken = "";
  it("item 5: the once-view asks before closing, shows the site URL and a ready MCP configuration", async () => {
    await openNewToken();
    const dialog = newTokenDialog();
    await dialog.getByLabel("Name", { exact: true }).fill("claude");
    await dialog.getByLabel("Type").selectOption("MCP");
    await dialog.getByRole("checkbox", { name: /^work:read / }).check();
    await dialog.getByRole("button", { name: "Create token" }).click();
    const once = onceDialog();
    await once.waitFor(WAIT);
    mcpToken = await once.getByLabel(/Your new token/).inputValue();
    await once.getByText(backend.siteUrl, { exact: true }).waitFor(WAIT);
    const config = once.getByTestId("mcp-config");
    const desktop = JSON.parse((await config.locator("pre").first().textContent())!);
    expect(desktop.mcpServers.keyhole.args).toEqual([
      "-y",
      "mcp-remote",
      `${backend.siteUrl}/mcp`,
      "--header",
      "Authorization:${KEYHOLE_TOKEN}",
      "--transport",
      "http-only",
    ]);
    expect(desktop.mcpServers.keyhole.env).toEqual({ KEYHOLE_TOKEN: `Bearer ${mcpToken}` });
    expect(await config.locator("pre").nth(1).textContent()).toMatch(/^claude mcp add-json keyhole '\{"command":"npx"/);
    await checkScreen(page, "issue17-once-view-mcp", () => once.getByText("Claude Code — run in a terminal").waitFor(WAIT), { fullPage: false });

    // Nothing copied yet: Escape, × and Done all ask first; "Go back" keeps the token on screen.
    for (const close of [() => page.keyboard.press("Escape"), () => once.getByRole("button", { name: "Close" }).click(), () => once.getByRole("button", { name: "Done" }).click()]) {
      await close();
      const ask = page.getByRole("dialog", { name: "Close without copying the token?" });
      await ask.waitFor(WAIT);
      expect(await focusedName(page)).toBe("Go back");
      await ask.getByRole("button", { name: "Go back" }).click();
      await ask.waitFor({ state: "detached" });
      expect(await once.getByLabel(/Your new token/).inputValue()).toBe(mcpToken);
    }
    await expectAxeClean(page, "once-view after going back");
    await once.getByRole("button", { name: "Done" }).click();
    await page.getByRole("dialog", { name: "Close without copying the token?" }).getByRole("button", { name: "Close anyway" }).click();
    await once.waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(mcpToken);
  });

  it("item 4: active tokens by default, search, sort, a short identifier; confirmations open on Cancel", async () => {
    const old = await me.mutation(api.auth.createApiToken, { name: "old-deploy", scopes: ["work:read"], description: "retired CI" });
    await me.mutation(api.auth.revokeApiToken, { tokenId: old.tokenId });
    const ci = await me.mutation(api.auth.createApiToken, { name: "ci", scopes: ["acme/site=work:write"], description: "deploys" });
    await row("ci").waitFor(WAIT);
    expect(await row("old-deploy").count()).toBe(0); // revoked: behind the filter
    await row("ci").getByText(`…${ci.token.slice(-6)}`).waitFor(WAIT);

    const names = () => page.locator("tr[data-token-name]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-token-name")));
    expect(await names()).toEqual(["ci", "claude", "kbd-reader"]); // newest first
    await page.getByLabel("Sort").selectOption("name");
    expect(await names()).toEqual(["ci", "claude", "kbd-reader"]);
    await page.getByRole("radio", { name: "All" }).check();
    await expect.poll(names, WAIT).toEqual(["ci", "claude", "kbd-reader", "old-deploy"]); // revoked sorted last
    await page.getByLabel("Search tokens").fill(mcpToken.slice(-6)); // a found token's last characters find its row
    await expect.poll(names, WAIT).toEqual(["claude"]);
    await page.getByLabel("Search tokens").fill("retired");
    await expect.poll(names, WAIT).toEqual(["old-deploy"]);
    // A revoked row says when it was revoked, not when it would have expired.
    expect(await row("old-deploy").locator(".cell-expires").innerText()).toMatch(/^revoked (just now|\d+ minutes? ago)$/);
    await page.getByLabel("Search tokens").fill("");
    await page.getByRole("radio", { name: "Active" }).check();

    // Confirmations open on Cancel; after revoking, focus stays on the page.
    await row("ci").getByRole("button", { name: "Revoke ci" }).click();
    const confirm = page.getByRole("dialog", { name: "Revoke “ci”?" });
    await confirm.waitFor(WAIT);
    expect(await focusedName(page)).toBe("Cancel");
    await expectAxeClean(page, "revoke confirmation");
    await confirm.getByRole("button", { name: "Revoke token" }).click();
    await row("ci").waitFor({ state: "detached", ...WAIT });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    await checkScreen(page, "issue17-tokens", () => row("claude").waitFor(WAIT));
  });

  it("item 9: honest times — no 'soon' for a fresh 7-day token, 'in 1 day' not 'in 24 hours', expiry flips on screen", async () => {
    await me.mutation(api.auth.createApiToken, { name: "week", scopes: ["work:read"], expiresIn: 7 * 86_400 });
    await me.mutation(api.auth.createApiToken, { name: "almost-day", scopes: ["work:read"], expiresIn: 86_000 });
    await me.mutation(api.auth.createApiToken, { name: "one-minute", scopes: ["work:read"], expiresIn: 60 });
    await row("one-minute").waitFor(WAIT);
    expect(await row("week").locator(".cell-expires").innerText()).toBe("in 7 days");
    expect(await row("almost-day").locator(".cell-expires").innerText()).toMatch(/^in 1 day/);

    // A second browser context (a page clock is per context) with a controlled clock, signed in as the same
    // person: nothing re-queries, yet the row flips when its time comes.
    const clockedContext = await browser.newContext({ viewport: DESKTOP, storageState: await context.storageState() });
    const clocked = await clockedContext.newPage();
    try {
      await clocked.clock.install();
      await clocked.goto(`${web.url}/#/tokens`);
      const r = clocked.locator('tr[data-token-name="one-minute"]');
      await r.waitFor(WAIT);
      expect(await r.getAttribute("data-status")).toBe("active");
      await clocked.clock.fastForward(61_000);
      // Expired: it leaves the default (active) view on its own, and shows as expired under "All".
      await r.waitFor({ state: "detached", ...WAIT });
      await clocked.getByRole("radio", { name: "All" }).check();
      await expect.poll(() => r.getAttribute("data-status"), WAIT).toBe("expired");
      expect(await r.locator(".cell-expires").innerText()).toMatch(/^expired (just now|1 minute ago)$/);
      // In the last quarter of its life a 7-day token says "expires soon".
      const week = clocked.locator('tr[data-token-name="week"]');
      expect(await week.getByText("expires soon").count()).toBe(0);
      await clocked.clock.fastForward(5.5 * 86_400_000);
      await week.getByText("expires soon").waitFor(WAIT);
    } finally {
      await clockedContext.close();
    }
  });

  it("item 10: at phone width the sections wrap (no sideways scrolling) and token cards are compact", async () => {
    await page.setViewportSize(PHONE);
    await row("claude").waitFor(WAIT);
    const nav = page.getByRole("navigation", { name: "Sections" });
    const overflow = await nav.evaluate((el) => {
      const ul = el.querySelector("ul")!;
      return { scroll: ul.scrollWidth - ul.clientWidth, navScroll: el.scrollWidth - el.clientWidth };
    });
    expect(overflow).toEqual({ scroll: 0, navScroll: 0 });
    for (const link of await nav.getByRole("link").all()) {
      const box = (await link.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    const heights = await page.locator("tr[data-token-name]").evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().height));
    expect(heights.length).toBeGreaterThan(2);
    expect(Math.max(...heights)).toBeLessThanOrEqual(140);
    await page.setViewportSize(DESKTOP);
  });

  it("item 4: edit a token's name and description, and regenerate it with a grace period, from its detail view", async () => {
    await page.getByRole("link", { name: "claude", exact: true }).click();
    await page.getByRole("heading", { name: /^claude/ }).waitFor(WAIT);
    await page.getByRole("button", { name: "Edit…" }).click();
    const edit = page.getByRole("dialog", { name: "Edit “claude”" });
    await edit.waitFor(WAIT);
    expect(await focusedName(page)).toBe("Name");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("claude-desktop");
    await edit.getByLabel(/Description/).fill("the laptop's Claude Desktop");
    await expectAxeClean(page, "edit dialog");
    await edit.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: /^claude-desktop/ }).waitFor(WAIT);
    await page.getByText("the laptop's Claude Desktop").waitFor(WAIT);

    await page.getByRole("button", { name: "Regenerate…" }).click();
    const regen = page.getByRole("dialog", { name: "Regenerate “claude-desktop”?" });
    await regen.waitFor(WAIT);
    await regen.getByRole("radio", { name: "Keep it working for 1 hour" }).check();
    await expectAxeClean(page, "regenerate dialog");
    await regen.getByRole("button", { name: "Regenerate", exact: true }).click();
    const once = page.getByRole("dialog", { name: "Copy the regenerated token" });
    await once.waitFor(WAIT);
    const fresh = await once.getByLabel(/Your new token/).inputValue();
    expect(fresh).not.toBe(mcpToken);
    await once.getByText("The old secret keeps working until").waitFor(WAIT);
    await once.getByTestId("mcp-config").waitFor(WAIT);
    await checkScreen(page, "issue17-regenerated-once-view", () => once.getByText("The old secret keeps working until").waitFor(WAIT), { fullPage: false });
    await once.getByRole("button", { name: "Copy token" }).click();
    await once.getByRole("button", { name: "Done" }).click();
    await once.waitFor({ state: "detached" });
    // The detail view moves to the new token (a new row), whose ID is the new text's end.
    await page.getByText(`…${fresh.slice(-6)}`, { exact: true }).waitFor(WAIT);
    const who = async (token: string) => (await fetch(`${backend.siteUrl}/api/whoami`, { headers: { Authorization: `Bearer ${token}` } })).status;
    expect(await who(fresh)).toBe(200);
    expect(await who(mcpToken)).toBe(200); // still within its hour of grace
  });
});
