// The token lifecycle crons on a controlled clock: expiry notices (7 days
// before and once expired, once each, with webhooks) and the
// revokeUnusedAfterDays sweep (unused tokens reaching the org are revoked
// and fail on their next call; used ones and other orgs' are left alone).
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { codeOf } from "../helpers/errors";
import { patFor, world } from "../tokens/fixtures";

const DAY = 86400_000;
const read = { workspace: "acme/site", name: "notes" };

beforeEach(() => {
  vi.useFakeTimers(); // Date and timers: scheduled continuations run only when asked
});
afterEach(() => {
  vi.useRealTimers();
});

async function notices(who: { as: { query: (...a: any[]) => Promise<any> } }) {
  return (await who.as.query(api.notices.list, {})) as { _id: string; kind: string; subjectId: string; message: string }[];
}

describe("expiry notices", () => {
  test("7 days before expiry and once expired, once each, with token.expiring / token.expired webhooks", async () => {
    const w = await world();
    const hook = await w.carol.as.mutation(api.webhooks.create, {
      url: "https://hooks.example.com/k",
      eventTypes: ["token.expiring", "token.expired"],
    });
    const pat = await patFor(w.t, w.carol, [], { name: "monthly", expiresIn: 20 * 86400 });
    const short = await patFor(w.t, w.carol, [], { name: "hourly", expiresIn: 3600 });
    await w.t.mutation(internal.governance.expiryNotices, {});
    expect(await notices(w.carol)).toEqual([]);

    vi.setSystemTime(pat.expiresAt - 7 * DAY + 1000);
    await w.t.mutation(internal.governance.expiryNotices, {});
    await w.t.mutation(internal.governance.expiryNotices, {});
    let list = await notices(w.carol);
    expect(list.map((n) => [n.kind, n.subjectId])).toEqual([["token.expiring", pat.tokenId]]);
    expect(list[0].message).toMatch(/"monthly" expires in 7 days/);

    vi.setSystemTime(pat.expiresAt + 1000);
    await w.t.mutation(internal.governance.expiryNotices, {});
    list = await notices(w.carol);
    expect(list.map((n) => n.kind).sort()).toEqual(["token.expired", "token.expiring"]);
    expect(list.map((n) => n.subjectId)).not.toContain(short.tokenId); // born expiring: no notices
    const ds = await w.t.run(async (ctx) => await ctx.db.query("webhookDeliveries").collect());
    expect(ds.filter((d) => d.endpointId === hook.endpointId).map((d) => d.eventType)).toEqual(["token.expiring", "token.expired"]);

    await w.carol.as.mutation(api.notices.dismiss, { noticeId: list[0]._id });
    expect(await notices(w.carol)).toHaveLength(1);
    expect(await codeOf(w.mallory.as.mutation(api.notices.dismiss, { noticeId: list[1]._id }))).toBe("not_found");
  });

  test("no notices for a revoked token or one replaced by regenerate", async () => {
    const w = await world();
    const revoked = await patFor(w.t, w.carol, [], { expiresIn: 30 * 86400 });
    const replaced = await patFor(w.t, w.carol, [], { expiresIn: 30 * 86400 });
    await w.carol.as.mutation(api.auth.revokeApiToken, { tokenId: revoked.tokenId });
    await w.carol.as.mutation(api.auth.regenerateApiToken, { tokenId: replaced.tokenId, graceSeconds: 3600 });
    vi.setSystemTime(Date.now() + 3 * 86400_000);
    await w.t.mutation(internal.governance.expiryNotices, {});
    expect(await notices(w.carol)).toEqual([]);
  });

  test("the scan pages through many tokens (continuations scheduled)", async () => {
    const w = await world();
    await w.t.run(async (ctx) => {
      const now = Date.now();
      for (let i = 0; i < 60; i++) {
        await ctx.db.insert("apiTokens", {
          userId: w.bob.userId, name: `b${i}`, type: "PAT", scopes: [], tokenHash: `h${i}`, keyId: "kh-test",
          createdAt: now, expiresAt: now + 10 * DAY,
        });
      }
    });
    vi.setSystemTime(Date.now() + 5 * 86400_000);
    await w.t.mutation(internal.governance.expiryNotices, {});
    expect((await notices(w.bob)).length).toBe(50);
    await w.t.finishAllScheduledFunctions(vi.runAllTimers);
    expect((await notices(w.bob)).length).toBe(50); // the list shows 50; all 60 exist
    const count = await w.t.run(async (ctx) => (await ctx.db.query("notices").collect()).length);
    expect(count).toBe(60);
  });
});

describe("revokeUnusedAfterDays", () => {
  test("unused tokens reaching the org are revoked and fail on their next call; used ones and others' stay", async () => {
    const w = await world();
    await w.mallory.as.mutation(api.orgs.create, { slug: "other", name: "Other" });
    const idle = await patFor(w.t, w.carol, ["acme=work:read"], { name: "idle", expiresIn: 300 * 86400 });
    const busy = await patFor(w.t, w.carol, ["acme=work:read,work:write"], { name: "busy", expiresIn: 300 * 86400 });
    const elsewhere = await patFor(w.t, w.mallory, [], { name: "m", expiresIn: 300 * 86400 });
    vi.setSystemTime(Date.now() + 8 * DAY);
    await busy.as.mutation(api.items.put, { ...read, data: "used" }); // a mutation records last use
    vi.setSystemTime(Date.now() + 4 * DAY);
    expect(await codeOf(idle.as.query(api.items.get, read))).toBe("ok");

    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { revokeUnusedAfterDays: 10 } });
    await w.t.finishAllScheduledFunctions(vi.runAllTimers); // setTokenPolicy sweeps the org at once
    expect(await codeOf(idle.as.query(api.items.get, read))).toBe("revoked");
    expect(await codeOf(busy.as.query(api.items.get, read))).toBe("ok");
    expect(await codeOf(elsewhere.as.query(api.items.get, { workspace: "evil/den", name: "loot" }))).toBe("ok");
    const [n] = await notices(w.carol);
    expect(n).toMatchObject({ kind: "token.revoked_unused", subjectId: idle.tokenId });
    expect(n.message).toMatch(/unused for 10 days \(token policy of "acme"\)/);

    // the daily cron finds the org by its policy too
    vi.setSystemTime(Date.now() + 7 * DAY);
    await w.t.mutation(internal.governance.sweepUnused, {});
    await w.t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await codeOf(busy.as.query(api.items.get, read))).toBe("revoked");
  });
});
