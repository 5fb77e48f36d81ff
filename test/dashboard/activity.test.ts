// Token activity (convex/model/activity.ts) and the short token identifier
// (convex/model/tokenHints.ts), on convex-test with a controlled clock:
// counts ride on the once-a-minute last-use write and on refused requests,
// never a write per request; only the owner (a signed-in person) reads them.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { dayOf } from "../../convex/model/activity";
import { authorizePath } from "../../convex/model/authorize";
import { asToken, makeTest, signIn } from "../helpers/convex";
import { codeOf } from "../helpers/errors";

afterEach(() => {
  vi.useRealTimers();
});

const T0 = Date.parse("2030-01-10T08:00:00Z");

async function setup() {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  const mallory = await signIn(t, "mallory@example.com");
  await alice.as.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.as.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  const pat = await alice.as.mutation(api.auth.createApiToken, { name: "bot", scopes: ["acme/site=work:read,work:write"], expiresIn: 365 * 86_400 });
  const bot = asToken(t, "pat", pat.tokenId);
  return { t, alice, mallory, pat, bot };
}

const put = (n: number) => ({ workspace: "acme/site", name: `Signal/${n}`, data: n });

describe("activity counts", () => {
  test("a minute with use counts once, however many requests it has", async () => {
    const { alice, pat, bot } = await setup();
    for (let i = 0; i < 5; i++) await bot.mutation(api.items.put, put(i)); // all within the first minute
    vi.setSystemTime(T0 + 61_000);
    await bot.mutation(api.items.put, put(9));
    const days = await alice.as.query(api.dashboard.tokenActivity, { tokenId: pat.tokenId });
    expect(days).toHaveLength(30);
    expect(days.at(-1)).toEqual({ day: dayOf(T0), uses: 2, refused: 0 });
    expect(days.slice(0, -1).every((d) => d.uses === 0 && d.refused === 0)).toBe(true);
    expect(days[0].day).toBe(dayOf(T0) - 29);
  });

  test("no write is added to a request: 0 in a minute already recorded, +1 on the once-a-minute write", async () => {
    const { t, pat } = await setup();
    // The same path every PAT mutation takes: authorize() → recordUse().
    const count = async () =>
      await asToken(t, "pat", pat.tokenId).run(async (ctx) => {
        const before = await ctx.meta.getTransactionMetrics();
        await authorizePath(ctx, "work:read", "acme/site");
        const after = await ctx.meta.getTransactionMetrics();
        return after.documentsWritten.used - before.documentsWritten.used;
      });
    expect(await count()).toBe(1); // first use this minute: the token's last use, which carries the day's counter
    vi.setSystemTime(T0 + 30_000);
    expect(await count()).toBe(0); // used < 1 minute ago: nothing written
    vi.setSystemTime(T0 + 61_000);
    expect(await count()).toBe(1);
    vi.setSystemTime(T0 + 86_400_000);
    expect(await count()).toBe(2); // first use of a new day: yesterday's count moves to its row, once
    vi.setSystemTime(T0 + 86_400_000 + 61_000);
    expect(await count()).toBe(1);
  });

  test("counts still on the token and counts moved to rows add up, in the chart and the overview, revoked or not", async () => {
    const { alice, pat, bot } = await setup();
    await bot.mutation(api.items.put, put(1));
    vi.setSystemTime(T0 + 61_000);
    await bot.mutation(api.items.put, put(2)); // day 0: 2 minutes
    vi.setSystemTime(T0 + 86_400_000);
    await bot.mutation(api.items.put, put(3)); // day 1: 1 minute; day 0 moved to its row
    await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    const days = await alice.as.query(api.dashboard.tokenActivity, { tokenId: pat.tokenId });
    expect(days.slice(-2)).toEqual([
      { day: dayOf(T0), uses: 2, refused: 0 },
      { day: dayOf(T0) + 1, uses: 1, refused: 0 },
    ]);
    const o = await alice.as.query(api.dashboard.overview, {});
    expect(o).toMatchObject({ activeTokens: 0, usesThisWeek: 3 });
    expect(o.days.slice(-2).map((d) => d.uses)).toEqual([2, 1]);
  });

  test("refused HTTP requests with a revoked token are counted for its owner", async () => {
    const { alice, pat, bot } = await setup();
    await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    const headers = { Authorization: `Bearer ${pat.token}` };
    for (let i = 0; i < 3; i++) expect((await bot.fetch("/api/whoami", { headers })).status).toBe(401);
    const today = (await alice.as.query(api.dashboard.tokenActivity, { tokenId: pat.tokenId })).at(-1);
    expect(today).toMatchObject({ uses: 0, refused: 3 });
    const o = await alice.as.query(api.dashboard.overview, {});
    expect(o).toMatchObject({ activeTokens: 0, refusedThisWeek: 3, usesThisWeek: 0 });
    expect(o.days).toHaveLength(7);
  });

  test("the overview: active tokens, live sessions, this week's use (older days left out)", async () => {
    const { alice, bot } = await setup();
    await bot.mutation(api.items.put, put(1));
    await alice.as.mutation(api.auth.createApiToken, { name: "second", scopes: ["work:read"] });
    await bot.mutation(api.auth.createSession, { agentId: "a1", ttl: 3600 });
    let o = await alice.as.query(api.dashboard.overview, {});
    expect(o).toMatchObject({ activeTokens: 2, liveSessions: 1, usesThisWeek: 1, refusedThisWeek: 0 });
    vi.setSystemTime(T0 + 8 * 86_400_000); // a week later: the session expired, last week's use is out of the window
    o = await alice.as.query(api.dashboard.overview, {});
    expect(o).toMatchObject({ activeTokens: 2, liveSessions: 0, usesThisWeek: 0 });
  });

  test("only the owner, signed in, reads a token's activity", async () => {
    const { alice, mallory, pat, bot } = await setup();
    expect(await codeOf(mallory.as.query(api.dashboard.tokenActivity, { tokenId: pat.tokenId }))).toBe("not_found");
    expect(await codeOf(alice.as.query(api.dashboard.tokenActivity, { tokenId: "not-an-id" }))).toBe("not_found");
    expect(await codeOf(bot.query(api.dashboard.tokenActivity, { tokenId: pat.tokenId }))).toBe("forbidden");
    expect(await codeOf(bot.query(api.dashboard.overview, {}))).toBe("forbidden");
    expect(await codeOf(bot.query(api.dashboard.siteInfo, {}))).toBe("forbidden");
    const { t } = await setup();
    for (const q of [api.dashboard.overview, api.dashboard.siteInfo]) expect(await codeOf(t.query(q, {}))).toBe("unauthenticated");
    expect(await codeOf(t.query(api.dashboard.tokenActivity, { tokenId: pat.tokenId }))).toBe("unauthenticated");
    const mine = await mallory.as.query(api.dashboard.overview, {});
    expect(mine).toMatchObject({ activeTokens: 0, usesThisWeek: 0, refusedThisWeek: 0 });
  });

  test("rows older than 90 days are purged, younger ones kept", async () => {
    const { t, bot } = await setup();
    await bot.mutation(api.items.put, put(1));
    vi.setSystemTime(T0 + 50 * 86_400_000);
    await bot.mutation(api.items.put, put(2)); // day 0's count moves to its row
    vi.setSystemTime(T0 + 60 * 86_400_000);
    await bot.mutation(api.items.put, put(3)); // day 50's count moves to its row
    vi.setSystemTime(T0 + 100 * 86_400_000);
    await t.mutation(internal.dashboard.purgeOldActivity, {});
    const rows = await t.run(async (ctx) => await ctx.db.query("tokenActivity").collect());
    expect(rows.map((r) => r.day)).toEqual([dayOf(T0 + 50 * 86_400_000)]);
  });
});

describe("short token identifier", () => {
  test("lists show the token's last 6 characters, never more of its text", async () => {
    const { alice, pat } = await setup();
    const { tokens } = await alice.as.query(api.auth.listApiTokens, {});
    expect(tokens[0].hint).toBe(pat.token.slice(-6));
    const details = await alice.as.query(api.auth.getApiToken, { tokenId: pat.tokenId });
    expect(details.hint).toBe(pat.token.slice(-6));
    // No 12-character piece of the token text appears anywhere in the list.
    const listed = JSON.stringify(tokens);
    for (let i = 0; i + 12 <= pat.token.length; i += 6) expect(listed).not.toContain(pat.token.slice(i, i + 12));
  });

  test("the site info names the MCP endpoint on the site URL", async () => {
    const { alice } = await setup();
    const info = await alice.as.query(api.dashboard.siteInfo, {});
    expect(info.mcpUrl).toBe(`${info.siteUrl}/mcp`);
    expect(info.siteUrl).toMatch(/^https?:\/\//);
  });
});
