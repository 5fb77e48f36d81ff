// Session rules that mutation testing (npm run test:mutation, issue 19) found
// no fast test pinned positively: each test fails when its rule is broken.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { FAMILY_LIFETIME_MS, PURGE_AFTER_MS } from "../../convex/model/agentSessions";
import { asToken, makeTest, signIn } from "../helpers/convex";

afterEach(() => {
  vi.useRealTimers();
});

describe("a child of a live PAT", () => {
  test("validates as valid (not only refused when dead): agent, expiry and metadata are its own", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "parent", scopes: [] });
    const child = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, {
      agentId: "child",
      metadata: { job: 7 },
    });
    expect(await t.query(api.auth.validateSession, { token: child.token })).toEqual({
      valid: true,
      agentId: "child",
      expiresAt: child.expiresAt,
      metadata: { job: 7 },
    });
    // And works as a credential.
    expect((await asToken(t, "agent", child.sessionId).query(api.auth.viewer, {})).userId).toBe(alice.userId);
  });
});

describe("retention of ended and expired families", () => {
  test("rows stay exactly 7 days past their family's absolute expiry, ended early or not", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const start = Date.now();
    const ended = await alice.as.mutation(api.auth.createSession, { agentId: "ended" });
    await t.mutation(api.auth.endSession, { token: ended.token });
    const family = start + FAMILY_LIFETIME_MS;
    const purge = async (at: number) => {
      vi.setSystemTime(at);
      return (await t.mutation(internal.sessions.purgeExpiredSessions, {})).deleted;
    };
    expect(await purge(start + 1000)).toBe(0); // ended, but kept for reuse forensics
    expect(await purge(family + PURGE_AFTER_MS)).toBe(0); // the last moment it is kept
    expect(await t.run(async (ctx) => await ctx.db.get("agentSessions", ended.sessionId))).not.toBeNull();
    expect(await purge(family + PURGE_AFTER_MS + 1)).toBe(1);
    expect(await t.run(async (ctx) => await ctx.db.get("agentSessions", ended.sessionId))).toBeNull();
    expect(PURGE_AFTER_MS).toBe(7 * 24 * 3600_000);
  });
});
