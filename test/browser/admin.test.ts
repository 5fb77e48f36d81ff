// The org admin screen in Chromium (playwright-core) against an embedded
// backend: an owner invites a member from the screen, the member opens the
// link in another browser and joins, the member's token appears on the
// owner's screen live, the owner revokes it there (the token fails on its
// next call), and a policy saved there refuses an existing token at once.
// A member sees none of the admin screen.
import fs from "node:fs";
import path from "node:path";
import type { ConvexHttpClient } from "convex/browser";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import type { SpawnedBackend } from "../helpers/backend";
import { codeOf, errorOf } from "../helpers/errors";
import { PASSWORD, passwordSignUp } from "../helpers/signup";
import { type DashboardStack, expectNotReloaded, markPage, SCREENSHOTS, startDashboard } from "./harness";

const OWNER = "olivia@admin.test";
const MEMBER = "max@admin.test";
const WAIT = { timeout: 15_000 };
const read = { workspace: "acme/site", name: "notes" };

let stack: DashboardStack;
let backend: SpawnedBackend;
let web: { url: string; stop: () => Promise<void> };
let browser: Browser;
let ownerCtx: BrowserContext;
let memberCtx: BrowserContext;
let page: Page;
let owner: ConvexHttpClient;
let member: ConvexHttpClient;

beforeAll(async () => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startDashboard();
  ({ backend, web, browser } = stack);
  owner = backend.httpClient((await passwordSignUp(backend, OWNER)).token);
  await owner.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await owner.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  await owner.mutation(api.items.put, { ...read, data: "hi" });
  member = backend.httpClient((await passwordSignUp(backend, MEMBER)).token);
  ownerCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  memberCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ownerCtx.newPage();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function signIn(p: Page, email: string, url = web.url) {
  await p.goto(url);
  await p.getByRole("heading", { name: "Sign in to keyhole" }).waitFor(WAIT);
  await p.getByLabel("Email").fill(email);
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: "Sign in", exact: true }).click();
  await p.getByRole("link", { name: "Organizations" }).waitFor(WAIT);
}

describe("the org admin screen", { timeout: 90_000 }, () => {
  let link = "";

  it("an owner creates an invitation; the link is shown once, the code only in the fragment", async () => {
    await signIn(page, OWNER);
    await page.getByRole("link", { name: "Organizations" }).click();
    await page.getByRole("heading", { name: "Tokens reaching acme" }).waitFor(WAIT);
    await markPage(page);
    await page.getByLabel("E-mail (optional)").fill(MEMBER.toUpperCase());
    await page.getByRole("button", { name: "Create invitation" }).click();
    const shown = page.locator("[data-invite-link] code");
    await shown.waitFor(WAIT);
    link = (await shown.textContent())!.trim();
    expect(new URL(link).hash).toMatch(/^#\/invite\?code=khi_/);
    await page.locator('[data-invite-status="pending"]').getByText(MEMBER).waitFor(WAIT);
  });

  it("the member opens the link in another browser, signs in and joins; the link is then spent", async () => {
    const mp = await memberCtx.newPage();
    const path_ = new URL(link);
    await signIn(mp, MEMBER, `${web.url}/${path_.hash}`);
    await mp.getByRole("button", { name: "Accept invitation" }).click();
    await mp.getByText("You joined Acme (acme) as member.").waitFor(WAIT);
    expect(mp.url()).not.toContain("khi_"); // taken out of the address bar
    // the owner's screen updates live
    await page.locator('[data-invite-status="accepted"]').waitFor(WAIT);
    // a member sees no admin screen
    await mp.getByRole("button", { name: "Go to organizations" }).click();
    await mp.getByRole("heading", { name: "Members" }).waitFor(WAIT);
    expect(await mp.getByRole("heading", { name: "Tokens reaching acme" }).count()).toBe(0);
    expect(await mp.getByRole("heading", { name: "Token policy" }).count()).toBe(0);
    const code = decodeURIComponent(link.split("code=")[1]);
    expect(await codeOf(owner.mutation(api.orgs.acceptInvite, { code }))).toBe("conflict");
    await mp.close();
  });

  it("a member's new token appears live; the owner revokes it there and it fails on its next call", async () => {
    const ci = await member.mutation(api.auth.createApiToken, { name: "max-ci", scopes: ["acme/site=work:read"] });
    expect(await codeOf(backend.httpClient(ci.token).query(api.items.get, read))).toBe("ok");
    const row = page.locator('tr[data-org-token="max-ci"]');
    await row.waitFor(WAIT);
    expect(await row.getAttribute("data-owner")).toBe(MEMBER);
    await page.screenshot({ path: path.join(SCREENSHOTS, "admin-01-tokens.png"), fullPage: true });
    expect(await page.content()).not.toContain(ci.token.split(".")[2]);

    await row.getByRole("button", { name: /Revoke max-ci/ }).click();
    const dialog = page.getByRole("dialog", { name: /Revoke “max-ci”/ });
    await dialog.getByLabel("Reason (shown to the owner)").fill("rotating CI keys");
    await dialog.getByRole("button", { name: "Revoke token" }).click();
    await row.waitFor({ state: "detached", ...WAIT });
    expect(await codeOf(backend.httpClient(ci.token).query(api.items.get, read))).toBe("revoked");
    const [notice] = await member.query(api.notices.list, {});
    expect(notice.message).toContain(`revoked by ${OWNER} (owner of acme): rotating CI keys`);
    await expectNotReloaded(page);
  });

  it("a policy saved on the screen refuses an existing token at once, and the row says so", async () => {
    const long = await member.mutation(api.auth.createApiToken, { name: "max-long", scopes: ["acme=work:read"], expiresIn: 30 * 86400 });
    const pat = backend.httpClient(long.token);
    expect(await codeOf(pat.query(api.items.get, read))).toBe("ok");
    await page.locator('tr[data-org-token="max-long"]').waitFor(WAIT);
    await page.getByLabel("Maximum token lifetime (days)").fill("7");
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByText("Saved.").waitFor(WAIT);
    const err = await errorOf(pat.query(api.items.get, read));
    expect(err.code).toBe("forbidden");
    expect(err.message).toMatch(/token policy of "acme".*maxLifetimeDays is 7/);
    await page.locator('tr[data-org-token="max-long"]').getByText("refused by policy").waitFor(WAIT);
    expect((await owner.query(api.orgs.getTokenPolicy, { org: "acme" })).maxLifetimeDays).toBe(7);
    await page.screenshot({ path: path.join(SCREENSHOTS, "admin-02-policy.png"), fullPage: true });
    await expectNotReloaded(page);
  });
});
