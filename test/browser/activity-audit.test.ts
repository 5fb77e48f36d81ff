// Issue 17 in Chromium, part 2: what the dashboard says about use — last use
// that never says "never" for a used token, the overview and a token's
// 30-day activity chart, sessions with their scopes, the CLI as a named
// device, the audit log in sentences with filters and exports — and what it
// says when the backend is down. axe-core (WCAG 2.2 AA + best practice) and
// screenshots at desktop and phone width for every screen.
import fs from "node:fs";
import os from "node:os";
import { ConvexHttpClient } from "convex/browser";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import { makeHome } from "../cli/run";
import type { SpawnedBackend } from "../helpers/backend";
import { PASSWORD, passwordSignUp } from "../helpers/signup";
import { checkScreen, DESKTOP, expectAxeClean } from "./a11y";
import { type DashboardStack, startDashboard } from "./harness";

const EMAIL = `lin-${Date.now()}@example.com`;
const WAIT = { timeout: 15_000 };

let stack: DashboardStack;
let backend: SpawnedBackend;
let web: { url: string; stop: () => Promise<void> };
let browser: Browser;
let context: BrowserContext;
let page: Page;
let me: ConvexHttpClient;
let userId = "";
const cliHome = makeHome();

beforeAll(async () => {
  stack = await startDashboard();
  ({ backend, web, browser } = stack);
  context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
  page = await context.newPage();
  const { token } = await passwordSignUp(backend, EMAIL);
  me = backend.httpClient(token);
  userId = (await me.query(api.users.me, {})).userId;
  await me.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await me.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  cliHome.cleanup();
});

const row = (name: string) => page.locator(`tr[data-token-name="${name}"]`);
const nav = (name: string) => page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name, exact: true });
const whoami = (token: string) => fetch(`${backend.siteUrl}/api/whoami`, { headers: { Authorization: `Bearer ${token}` } });

let reader: { token: string; tokenId: string };
let leaked: { token: string; tokenId: string };

describe("activity, sessions, devices and audit", { timeout: 90_000 }, () => {
  it("the accessibility check used here does fail on a violation", async () => {
    const probe = await context.newPage();
    try {
      await probe.setContent('<html lang="en"><head><title>probe</title></head><body><main><h1>x</h1><img src="x.png"></main></body></html>');
      await expect(expectAxeClean(probe, "probe")).rejects.toThrow(/image-alt/);
    } finally {
      await probe.close();
    }
  });

  it("item 1: a token used only through Convex queries reads 'none recorded', never 'never'; a mutation shows up live", async () => {
    reader = await me.mutation(api.auth.createApiToken, { name: "reader", scopes: ["acme/site=work:read,work:write"] });
    const bot = backend.httpClient(reader.token);
    await bot.query(api.items.list, { workspace: "acme/site", paginationOpts: { numItems: 5, cursor: null } });
    await page.goto(web.url);
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const lastUse = row("reader").locator('td[data-label="Last use"]');
    await expect.poll(() => lastUse.innerText(), WAIT).toBe("none recorded");
    expect(await page.locator("main").innerText()).not.toMatch(/\bnever\b/i);
    await page.getByText("Reads through Convex queries can't be recorded").waitFor(WAIT);
    await bot.mutation(api.items.put, { workspace: "acme/site", name: "Signal/1", data: 1 });
    await expect.poll(() => lastUse.innerText(), WAIT).toContain("just now");
  });

  it("item 11: the overview and a token's 30-day chart count use and refusals (from HTTP requests)", async () => {
    expect((await whoami(reader.token)).status).toBe(200);
    leaked = await me.mutation(api.auth.createApiToken, { name: "leaked", scopes: ["work:read"] });
    expect((await whoami(leaked.token)).status).toBe(200);
    await me.mutation(api.auth.revokeApiToken, { tokenId: leaked.tokenId });
    for (let i = 0; i < 3; i++) expect((await whoami(leaked.token)).status).toBe(401);
    const overview = page.getByRole("list", { name: "Overview" });
    await expect.poll(() => overview.innerText(), WAIT).toMatch(/3\s+refused this week/);
    await expect.poll(() => overview.innerText(), WAIT).toMatch(/1\s+active token\b/);

    await page.getByRole("radio", { name: "All" }).check();
    await row("leaked").getByRole("link", { name: "leaked" }).click();
    await page.getByRole("heading", { name: /^leaked/ }).waitFor(WAIT);
    const chart = page.getByTestId("activity-chart");
    await chart.locator("canvas").waitFor(WAIT);
    expect(await chart.getAttribute("aria-label")).toMatch(/1 minutes with recorded use and 3 refused requests/);
    // Both series are drawn: pixels in the accent colour (use) and in the "bad" colour (refused).
    const painted = await chart.locator("canvas").evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      const near = (i: number, rgb: number[]) => rgb.every((v, k) => Math.abs(d[i + k] - v) < 12);
      let uses = 0;
      let refused = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (near(i, [0x43, 0x38, 0xca])) uses++;
        if (near(i, [0xb4, 0x23, 0x18])) refused++;
      }
      return { uses, refused };
    });
    expect(painted.uses).toBeGreaterThan(20);
    expect(painted.refused).toBeGreaterThan(painted.uses); // 3 refused vs 1 minute with use: a taller bar
    await page.getByText("Show the numbers").click();
    const today = page.locator(".chart-data tbody tr").last();
    expect((await today.locator("td").allInnerTexts()).slice(1)).toEqual(["1", "3"]);
    expect(await page.locator(".chart-data tbody tr").count()).toBe(30);
    await checkScreen(page, "issue17-token-detail", () => chart.locator("canvas").waitFor(WAIT));
  });

  it("item 7: agent sessions show their scopes; the CLI's sign-in is a named device with its IP", async () => {
    await me.mutation(api.auth.createSession, { agentId: "indexer", ttl: 3600, scopes: ["acme/site=work:read"] });
    await backend.httpClient(reader.token).mutation(api.auth.createSession, { agentId: "child-bot", ttl: 600 });
    await nav("Agent sessions").click();
    const indexer = page.getByRole("article", { name: "indexer" });
    await indexer.getByText("acme/site").waitFor(WAIT);
    await indexer.getByText("work: read").waitFor(WAIT);
    const child = page.getByRole("article", { name: "child-bot" });
    await child.getByText("from token reader").waitFor(WAIT);
    await child.getByText("everything its token allows").waitFor(WAIT);
    expect(await page.locator("main").innerText()).not.toMatch(/\bnever\b/i);
    await checkScreen(page, "issue17-sessions", () => child.waitFor(WAIT));

    const login = await cliHome.run(["login", "--email", EMAIL], { env: { KEYHOLE_URL: backend.url }, input: `${PASSWORD}\n` });
    expect(login.code, login.stderr).toBe(0);
    await nav("Devices").click();
    const system = { Linux: "Linux", Darwin: "macOS", Windows_NT: "Windows" }[os.type()] ?? os.type();
    const cli = page.locator("li[data-current]", { hasText: `keyhole CLI on ${system}` });
    await cli.waitFor(WAIT);
    await cli.getByText("127.0.0.1").waitFor(WAIT);
    expect(await page.locator("li[data-current]", { hasText: "keyhole CLI" }).count()).toBe(1);
    await checkScreen(page, "issue17-devices", () => cli.waitFor(WAIT));
  });

  it("item 8: the audit log in sentences with names, one naming style, filters", async () => {
    await nav("Audit log").click();
    const table = page.locator("table.audit");
    await table.getByText("Token reader started agent session child-bot for 10 minutes").waitFor(WAIT);
    await table.getByText("You revoked token leaked").waitFor(WAIT);
    await table.getByText("A request with revoked token leaked was refused").first().waitFor(WAIT);
    const text = await table.innerText();
    for (const id of [reader.tokenId, leaked.tokenId, userId]) expect(text).not.toContain(id);
    expect(text).not.toMatch(/apiTokens|agentSessions|authSessions/);
    const actions = await table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")!));
    for (const a of actions) expect(a).toMatch(/^[a-z_]+\.[a-z_]+$/);
    expect(actions).toContain("session.created");
    expect(actions).not.toContain("session.create");
    await checkScreen(page, "issue17-audit", () => table.waitFor(WAIT));

    const shown = () => table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
    await page.getByLabel("Event", { exact: true }).selectOption("token.revoked");
    await expect.poll(shown, WAIT).toEqual(["token.revoked"]);
    await page.getByLabel("Event", { exact: true }).selectOption("");
    await page.getByLabel("Token", { exact: true }).selectOption(leaked.tokenId);
    const refusedThrice = ["token.used_after_revoke", "token.used_after_revoke", "token.used_after_revoke"];
    await expect.poll(shown, WAIT).toEqual([...refusedThrice, "token.revoked", "token.created"]);
    await page.getByLabel("Token", { exact: true }).selectOption("");
    await page.getByLabel("Done by", { exact: true }).selectOption("pat");
    await expect.poll(shown, WAIT).toEqual(["session.created", ...refusedThrice]);
    const tomorrow = new Date(Date.now() + 86_400_000);
    const pad = (n: number) => String(n).padStart(2, "0");
    await page.getByLabel("From", { exact: true }).fill(`${tomorrow.getFullYear()}-${pad(tomorrow.getMonth() + 1)}-${pad(tomorrow.getDate())}`);
    await page.getByText("No events match these filters").waitFor(WAIT);
    await expectAxeClean(page, "audit log, filtered");
    await page.getByRole("button", { name: "Clear filters" }).click();
    await table.getByText("You revoked token leaked").waitFor(WAIT);

    // From a token's detail view to its events.
    await nav("Tokens").click();
    await page.getByRole("radio", { name: "All" }).check();
    await row("reader").getByRole("link", { name: "reader" }).click();
    await page.getByRole("link", { name: "Audit events for this token" }).click();
    await expect.poll(() => page.getByLabel("Token", { exact: true }).inputValue(), WAIT).toBe(reader.tokenId);
    await expect.poll(shown, WAIT).toEqual(["session.created", "token.created"]);
  });

  it("item 8: exports the log as JSON and CSV", async () => {
    await page.getByRole("button", { name: "Clear filters" }).click();
    const all = (await me.query(api.audit.list, { paginationOpts: { numItems: 100, cursor: null } })).page;
    const [json] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export JSON" }).click()]);
    const exported = JSON.parse(fs.readFileSync((await json.path())!, "utf8")) as { events: { event: string; summary: string }[] };
    expect(exported.events).toHaveLength(all.length);
    expect(exported.events.map((e) => e.event)).toEqual(all.map((e) => e.action));
    expect(exported.events.some((e) => e.summary === "You revoked token leaked")).toBe(true);
    await page.getByText(`Exported ${all.length} events as JSON.`).waitFor(WAIT);
    const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    const lines = fs.readFileSync((await csv.path())!, "utf8").trim().split("\r\n");
    expect(lines[0]).toBe("at,event,summary,actorKind,actor,targetType,target,ip,userAgent,details");
    expect(lines).toHaveLength(all.length + 1);
  });

  it("the other screens are axe-clean at both widths", async () => {
    await nav("Organizations").click();
    await checkScreen(page, "issue17-organizations", () => page.getByRole("heading", { name: "Acme", exact: true }).waitFor(WAIT));
    await nav("Connections").click();
    await checkScreen(page, "issue17-connections", () => page.getByRole("heading", { name: "OAuth connections" }).waitFor(WAIT));
    await nav("Connected apps").click();
    await checkScreen(page, "issue17-connected-apps", () => page.getByRole("heading", { name: "Connected apps", level: 1 }).waitFor(WAIT));
    await nav("Webhooks").click();
    await checkScreen(page, "issue17-webhooks", () => page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor(WAIT));
    await nav("Tokens").click();
    await checkScreen(page, "issue17-tokens-overview", () => row("reader").waitFor(WAIT));
  });

  it("item 6: with the backend down, a banner from the first load and a sign-in error instead of spinners", async () => {
    backend.kill("SIGTERM");
    await backend.exited;
    const banner = page.getByTestId("connection-banner");
    await banner.getByText("Lost the connection to the keyhole backend").waitFor(WAIT);
    await page.reload();
    await banner.getByText(`Can't reach the keyhole backend at ${backend.url}`).waitFor(WAIT);
    await checkScreen(page, "issue17-backend-down", () => banner.waitFor(WAIT));

    const fresh = await browser.newContext({ viewport: DESKTOP });
    try {
      const p = await fresh.newPage();
      await p.goto(web.url);
      await p.getByTestId("connection-banner").waitFor(WAIT);
      await p.getByLabel("Email").fill(EMAIL);
      await p.getByLabel("Password").fill(PASSWORD);
      await p.getByRole("button", { name: "Sign in", exact: true }).click();
      await p.getByRole("alert").getByText(`Can't reach the keyhole backend at ${backend.url}`).waitFor(WAIT);
      expect(await p.getByRole("button", { name: "Sign in", exact: true }).isEnabled()).toBe(true);
      await checkScreen(p, "issue17-sign-in-backend-down", () => p.getByRole("alert").waitFor(WAIT));
    } finally {
      await fresh.close();
    }
  });
});
