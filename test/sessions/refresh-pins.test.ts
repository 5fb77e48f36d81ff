// refreshSession rules (convex/model/agentRefresh.ts) that mutation testing
// (npm run test:mutation, issue 19) found no fast test pinned: each test is
// named after its rule and fails when the rule breaks.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { refreshAgentSession } from "../../convex/model/agentRefresh";
import { insertSessionRow } from "../../convex/model/agentSessions";
import type { TestConvex } from "../helpers/convex";
import { errorOf } from "../helpers/errors";
import { audit, INVALID, refresh, rotate, row, setup } from "./agentSessionSetup";

afterEach(() => {
  vi.useRealTimers();
});

const OAUTH_ONLY = "this session is an OAuth grant: the app refreshes it at the token endpoint (/oauth/token)";

/** A session row as the OAuth token endpoint issues it (model/oauthServer/token.ts): it carries an audience. */
async function oauthSession(t: TestConvex, userId: Id<"users">, familyId?: string) {
  return await t.run(
    async (ctx) =>
      await insertSessionRow(ctx, {
        userId,
        agentId: "app",
        scopes: [],
        ttlS: 3600,
        familyExpiresAt: Date.now() + 86400_000,
        audience: "https://example.test/mcp",
        ...(familyId === undefined ? {} : { familyId }),
      }),
  );
}

describe("an OAuth grant's session is refreshed at the token endpoint only", () => {
  // Attacker: holds an OAuth app's tokens and calls refreshSession directly, around the client binding.
  test("refreshSession refuses its refresh token and its session token (forbidden), and leaves it live", async () => {
    const { t, alice } = await setup();
    const s = await oauthSession(t, alice.userId);
    for (const args of [{ refreshToken: s.refreshToken }, { token: s.token }, { token: s.token, ttl: 60 }]) {
      expect(await t.mutation(api.auth.refreshSession, args)).toEqual({ ok: false, code: "forbidden", message: OAUTH_ONLY });
    }
    expect((await t.query(api.auth.validateSession, { token: s.token })).valid).toBe(true);
    expect((await row(t, s.sessionId))!.endedAt).toBeUndefined();
  });

  test("the token endpoint rotates it: the holder's row ends refreshed, a live sibling superseded", async () => {
    const { t, alice } = await setup();
    const s = await oauthSession(t, alice.userId);
    const sibling = await oauthSession(t, alice.userId, s.sessionId); // the grace window's concurrent pair
    const r = await t.run(
      async (ctx) => await refreshAgentSession(ctx, { refreshToken: s.refreshToken, viaOAuthTokenEndpoint: true }),
    );
    expect(r.ok).toBe(true);
    expect((await row(t, s.sessionId))!.endReason).toBe("refreshed");
    expect((await row(t, sibling.sessionId))!.endReason).toBe("superseded");
  });
});

describe("refreshing with a session token", () => {
  // Attacker: holds a token whose session was ended (by the owner, not by a refresh) and tries to revive it.
  test("an ended session's token is refused as ended, not treated as a replay (no reuse alarm)", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    await t.mutation(api.auth.endSession, { token: s.token });
    expect(await errorOf(refresh(t, { token: s.token }))).toEqual({ code: "revoked", message: "this agent session has ended" });
    expect((await audit(t)).filter((e) => e.action === "session.reuse_detected")).toEqual([]);
    expect((await row(t, s.sessionId))!.endReason).toBe("ended");
  });

  test("a shorter ttl is honoured: the new token expires ttl seconds from now", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers({ toFake: ["Date"] });
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 3600 });
    vi.setSystemTime(Date.now() + 10_000);
    const n = await refresh(t, { token: s.token, ttl: 60 });
    expect(n.expiresAt).toBe(Date.now() + 60_000);
    expect(n.expiresAt).toBeLessThan(s.expiresAt);
  });

  test("a refresh is audited with the row it came from and the credential used", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const byToken = await refresh(t, { token: s.token });
    const byRefresh = await rotate(t, s.refreshToken);
    const refreshed = (await audit(t)).filter((e) => e.action === "session.refreshed");
    expect(refreshed.map((e) => [e.actorKind, e.targetType, e.targetId, e.details])).toEqual([
      ["agent", "agentSession", byToken.sessionId, `agent=a from=${s.sessionId} via=token`],
      ["agent", "agentSession", byRefresh.sessionId, `agent=a from=${byToken.sessionId} via=refresh_token`],
    ]);
  });
});

describe("replays and refusals", () => {
  test("a replay is audited against the family, naming the credential and how many sessions it ended", async () => {
    const { t, alice } = await setup();
    const a = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    await rotate(t, a.refreshToken);
    expect(await errorOf(rotate(t, a.refreshToken))).toEqual({
      code: "revoked",
      message: "this refresh token was already used to refresh: the whole session family has been revoked; create a new session",
    });
    const b = await alice.as.mutation(api.auth.createSession, { agentId: "b" });
    await refresh(t, { token: b.token });
    expect((await errorOf(refresh(t, { token: b.token }))).message).toBe(
      "this session token was already used to refresh: the whole session family has been revoked; create a new session",
    );
    const reuse = (await audit(t)).filter((e) => e.action === "session.reuse_detected");
    expect(reuse.map((e) => [e.targetType, e.targetId, e.details])).toEqual([
      ["agentSessionFamily", a.sessionId, `agent=a replayed refresh token of ${a.sessionId}; ended 1 live session(s)`],
      ["agentSessionFamily", b.sessionId, `agent=b replayed session token of ${b.sessionId}; ended 1 live session(s)`],
    ]);
  });

  test("refusals say what was wrong", async () => {
    const { t } = await setup();
    expect(await errorOf(refresh(t, {}))).toEqual({
      code: "invalid_argument",
      message: "pass exactly one of refreshToken or token (the current session token)",
    });
    expect(await errorOf(refresh(t, { refreshToken: "khr_" + "A".repeat(43) }))).toEqual({
      code: "unauthenticated",
      message: "unknown refresh token",
    });
    expect(await errorOf(refresh(t, { token: "nope" }))).toEqual({ code: "unauthenticated", message: "unknown session token" });
  });
});

// Module-level constants (SPENT, the result validators, refuse) are evaluated once per module load;
// Stryker counts them as covered by whichever test loads the module first. These tests load the
// modules afresh inside themselves (vi.resetModules, then a new convex-test world), so a mutant of
// a constant is live while they run.
describe("with the modules loaded afresh", () => {
  test("every refusal code and both success shapes pass refreshSession's return validator", async () => {
    vi.resetModules();
    const { t, alice } = await setup();
    vi.useFakeTimers({ toFake: ["Date"] });
    const call = (args: { refreshToken?: string; token?: string }) => t.mutation(api.auth.refreshSession, args);
    expect(await call({ token: "nope" })).toEqual({ ok: false, code: "unauthenticated", message: "unknown session token" });
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 60 });
    const byToken = await call({ token: s.token });
    expect(byToken).toEqual({ ok: true, token: expect.any(String), sessionId: expect.any(String), expiresAt: s.expiresAt });
    const byRefresh = await call({ refreshToken: s.refreshToken });
    expect(byRefresh).toMatchObject({ ok: true, refreshToken: expect.stringMatching(/^khr_/) });
    const oauth = await oauthSession(t, alice.userId);
    expect(await call({ token: oauth.token })).toEqual({ ok: false, code: "forbidden", message: OAUTH_ONLY });
    vi.setSystemTime(Date.now() + 61_000);
    expect(await call({ token: (byRefresh as { token: string }).token })).toMatchObject({ ok: false, code: "expired" });
    await t.mutation(api.auth.endSession, { token: oauth.token });
    expect(await call({ refreshToken: oauth.refreshToken })).toMatchObject({ ok: false, code: "revoked" });
  });

  // Attacker: replays spent credentials: a session token refreshed with itself, one whose refresh
  // token was rotated, and a rotated refresh token.
  test("a spent session token or refresh token, replayed, ends the family", async () => {
    vi.resetModules();
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const n = await refresh(t, { token: s.token }); // s ends "token_refreshed"
    expect((await errorOf(refresh(t, { token: s.token }))).code).toBe("revoked");
    expect(await t.query(api.auth.validateSession, { token: n.token })).toEqual(INVALID);
    expect((await row(t, n.sessionId))!.endReason).toBe("reuse_detected");
    const r = await alice.as.mutation(api.auth.createSession, { agentId: "b" });
    const r2 = await rotate(t, r.refreshToken); // r ends "refreshed"
    expect((await errorOf(refresh(t, { token: r.token }))).code).toBe("revoked");
    expect((await row(t, r2.sessionId))!.endReason).toBe("reuse_detected");
    const c = await alice.as.mutation(api.auth.createSession, { agentId: "c" });
    const c2 = await rotate(t, c.refreshToken);
    expect((await errorOf(rotate(t, c.refreshToken))).code).toBe("revoked");
    expect((await row(t, c2.sessionId))!.endReason).toBe("reuse_detected");
  });
});
