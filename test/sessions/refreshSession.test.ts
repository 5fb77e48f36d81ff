// refreshSession, function level (convex-test): rotation, reuse detection
// (a replayed refresh token ends the family), refresh with the access token.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { asToken } from "../helpers/convex";
import { errorOf } from "../helpers/errors";
import { audit, INVALID, refresh, rotate, row, setup } from "./agentSessionSetup";

afterEach(() => {
  vi.useRealTimers();
});

describe("refreshSession", () => {
  test("rotation: old pair refused at once, new pair works, same agent, scopes and family", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, {
      agentId: "a",
      ttl: 300,
      scopes: ["connections:read"],
      metadata: { taskId: "t-1" },
    });
    const n = await rotate(t, s.refreshToken, 120);
    expect(n.sessionId).not.toBe(s.sessionId);
    expect(n.token).not.toBe(s.token);
    expect(n.refreshToken).not.toBe(s.refreshToken);
    expect(n.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);

    expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual(INVALID);
    expect((await errorOf(asToken(t, "agent", s.sessionId).query(api.auth.viewer, {}))).code).toBe("revoked");
    expect(await t.query(api.auth.validateSession, { token: n.token })).toMatchObject({
      valid: true,
      agentId: "a",
      metadata: { taskId: "t-1" },
    });
    const [oldRow, newRow] = [(await row(t, s.sessionId))!, (await row(t, n.sessionId))!];
    expect(oldRow.endReason).toBe("refreshed");
    expect(newRow.familyId).toBe(oldRow.familyId);
    expect(newRow.scopes).toEqual(oldRow.scopes);
    expect(newRow.familyExpiresAt).toBe(oldRow.familyExpiresAt);
    expect((await audit(t)).some((e) => e.action === "session.refreshed" && e.targetId === n.sessionId)).toBe(true);
  });

  test("with the current session token: a new session token only, the old one ends", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const n = await refresh(t, { token: s.token });
    expect(n.refreshToken).toBeUndefined();
    expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual(INVALID);
    expect((await t.query(api.auth.validateSession, { token: n.token })).valid).toBe(true);
    expect((await row(t, s.sessionId))!.endReason).toBe("token_refreshed");
    // Replaying the spent session token is reuse: the family ends.
    expect((await errorOf(refresh(t, { token: s.token }))).code).toBe("revoked");
    expect(await t.query(api.auth.validateSession, { token: n.token })).toEqual(INVALID);
  });

  // Attacker: holds a leaked 60-second session token, nothing else.
  test("a leaked session token never yields a refresh token or a longer lifetime", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 60 });
    vi.setSystemTime(Date.now() + 30_000);
    const stolen = await refresh(t, { token: s.token, ttl: 86400 });
    expect(stolen.refreshToken).toBeUndefined();
    expect(stolen.expiresAt).toBeLessThanOrEqual(s.expiresAt);
    // Chaining does not extend it either.
    vi.setSystemTime(Date.now() + 20_000);
    const again = await refresh(t, { token: stolen.token });
    expect(again.refreshToken).toBeUndefined();
    expect(again.expiresAt).toBeLessThanOrEqual(s.expiresAt);
    vi.setSystemTime(s.expiresAt);
    expect(await t.query(api.auth.validateSession, { token: again.token })).toEqual(INVALID);
    expect((await errorOf(refresh(t, { token: again.token }))).code).toBe("expired");
    // No row of the family outlives the session the refresh token holder set up.
    const family = await t.run(async (ctx) => await ctx.db.query("agentSessions").collect());
    expect(Math.max(...family.map((r) => r.expiresAt))).toBe(s.expiresAt);
  });

  test("the refresh-token holder refreshing ends every token minted from a session token", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const minted = await refresh(t, { token: s.token }); // e.g. by whoever stole s.token
    // The holder's refresh token still works, and takes the session back.
    const mine = await rotate(t, s.refreshToken);
    expect(await t.query(api.auth.validateSession, { token: minted.token })).toEqual(INVALID);
    expect((await errorOf(asToken(t, "agent", minted.sessionId).query(api.auth.viewer, {}))).code).toBe("revoked");
    expect((await row(t, minted.sessionId))!.endReason).toBe("refreshed");
    expect((await t.query(api.auth.validateSession, { token: mine.token })).valid).toBe(true);
    // Replaying the rotated refresh token is reuse.
    expect((await errorOf(rotate(t, s.refreshToken))).code).toBe("revoked");
    expect(await t.query(api.auth.validateSession, { token: mine.token })).toEqual(INVALID);
  });

  test("a refusal is a result, and a replay's revocation commits (the call does not throw)", async () => {
    const { t, alice } = await setup();
    const a = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const b = await rotate(t, a.refreshToken);
    const replay = await t.mutation(api.auth.refreshSession, { refreshToken: a.refreshToken });
    expect(replay).toEqual({
      ok: false,
      code: "revoked",
      message: expect.stringContaining("whole session family has been revoked") as string,
    });
    expect((await row(t, b.sessionId))!.endReason).toBe("reuse_detected");
  });

  test("replaying a used refresh token revokes the whole family, audited", async () => {
    const { t, alice } = await setup();
    const a = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const b = await rotate(t, a.refreshToken);
    const c = await rotate(t, b.refreshToken);
    const other = await alice.as.mutation(api.auth.createSession, { agentId: "a" });

    const e = await errorOf(rotate(t, a.refreshToken));
    expect(e.code).toBe("revoked");
    expect(e.message).toContain("whole session family has been revoked");
    // The live descendant is dead, and so is its refresh token.
    expect(await t.query(api.auth.validateSession, { token: c.token })).toEqual(INVALID);
    expect((await errorOf(asToken(t, "agent", c.sessionId).query(api.auth.viewer, {}))).code).toBe("revoked");
    expect((await errorOf(rotate(t, c.refreshToken))).code).toBe("revoked");
    expect((await row(t, c.sessionId))!.endReason).toBe("reuse_detected");
    // Another family of the same agent is untouched.
    expect((await t.query(api.auth.validateSession, { token: other.token })).valid).toBe(true);
    const events = await audit(t);
    const reuse = events.filter((ev) => ev.action === "session.reuse_detected");
    expect(reuse).toHaveLength(1);
    expect(reuse[0]).toMatchObject({ userId: alice.userId, targetId: a.sessionId });
    expect(JSON.stringify(events)).not.toContain(a.refreshToken);
  });

  test("two concurrent refreshes of one refresh token: at most one succeeds", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const results = await Promise.allSettled([
      rotate(t, s.refreshToken),
      rotate(t, s.refreshToken),
    ]);
    const ok = results.filter((r) => r.status === "fulfilled");
    expect(ok.length).toBeLessThanOrEqual(1);
    const live = await t.run(async (ctx) =>
      (await ctx.db.query("agentSessions").collect()).filter((r) => r.endedAt === undefined),
    );
    expect(live).toHaveLength(0); // the second one was reuse: the family is revoked
  });

  test("unknown, malformed, ended and ambiguous credentials are refused", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    expect((await errorOf(refresh(t, { refreshToken: "khr_" + "A".repeat(43) }))).code).toBe(
      "unauthenticated",
    );
    expect((await errorOf(refresh(t, { refreshToken: "nope" }))).code).toBe("unauthenticated");
    expect((await errorOf(refresh(t, { token: "nope" }))).code).toBe("unauthenticated");
    expect((await errorOf(refresh(t, {}))).code).toBe("invalid_argument");
    expect(
      (await errorOf(refresh(t, { token: s.token, refreshToken: s.refreshToken }))).code,
    ).toBe("invalid_argument");
    expect((await errorOf(rotate(t, s.refreshToken, 30))).code).toBe(
      "invalid_argument",
    );
    // None of those touched the session.
    expect((await t.query(api.auth.validateSession, { token: s.token })).valid).toBe(true);
    await t.mutation(api.auth.endSession, { token: s.token });
    const e = await errorOf(rotate(t, s.refreshToken));
    expect(e).toEqual({ code: "revoked", message: "this agent session has ended" });
  });
});
