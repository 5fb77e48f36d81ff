// Agent sessions, function level (convex-test): create / validate / refresh /
// end, PAT children, expiry with a controlled clock (refresh and reuse
// detection: refreshSession.test.ts).
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { signKeyholeToken } from "../../convex/model/keys";
import { LIMITS } from "../../convex/model/rateLimit";
import { asToken, signIn } from "../helpers/convex";
import { errorOf } from "../helpers/errors";
import { audit, INVALID, refresh, rotate, row, setup } from "./agentSessionSetup";

afterEach(() => {
  vi.useRealTimers();
});

describe("createSession", () => {
  test("a signed-in person gets a token pair; only hashes are stored", async () => {
    const { t, alice } = await setup();
    const before = Date.now();
    const s = await alice.as.mutation(api.auth.createSession, {
      agentId: "bot-1",
      ttl: 600,
      metadata: { platform: "linux", purpose: "ci", taskId: 42 },
    });
    expect(s.token.split(".")).toHaveLength(3);
    expect(s.refreshToken).toMatch(/^khr_[A-Za-z0-9_-]{43}$/);
    expect(s.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(s.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

    const r = (await row(t, s.sessionId))!;
    expect(r.userId).toBe(alice.userId);
    expect(r.familyId).toBe(s.sessionId);
    expect(r.parentTokenId).toBeUndefined();
    expect(r.scopes).toEqual([]);
    const stored = JSON.stringify(await t.run(async (ctx) => await ctx.db.query("agentSessions").collect()));
    expect(stored).not.toContain(s.token);
    expect(stored).not.toContain(s.refreshToken);
    expect(r.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.refreshHash).toMatch(/^[0-9a-f]{64}$/);

    expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual({
      valid: true,
      agentId: "bot-1",
      expiresAt: s.expiresAt,
      metadata: { platform: "linux", purpose: "ci", taskId: 42 },
    });
    // The token is a credential: the session is who calls.
    expect(await asToken(t, "agent", s.sessionId).query(api.auth.viewer, {})).toMatchObject({
      kind: "agent",
      userId: alice.userId,
      sessionId: s.sessionId,
      agentId: "bot-1",
    });
  });

  test("ttl defaults to one hour; 60 s and 24 h are the bounds", async () => {
    const { alice } = await setup();
    const now = Date.now();
    const d = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    expect(d.expiresAt - now).toBeGreaterThanOrEqual(3600_000);
    expect(d.expiresAt - now).toBeLessThan(3600_000 + 5_000);
    await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 60 });
    await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 86400 });
    for (const ttl of [59, 86401, 0, -5, 90.5, Number.NaN]) {
      const e = await errorOf(alice.as.mutation(api.auth.createSession, { agentId: "a", ttl }));
      expect(e.code).toBe("invalid_argument");
      expect(e.message).toMatch(/from 60 .* to 86400/);
    }
  });

  test("agentId: 1-128 of [A-Za-z0-9_.:-]", async () => {
    const { alice } = await setup();
    await alice.as.mutation(api.auth.createSession, { agentId: "Claude:code_agent-1.2" });
    await alice.as.mutation(api.auth.createSession, { agentId: "x".repeat(128) });
    for (const agentId of ["", "x".repeat(129), "has space", "slash/no", "émoji", "a\nb"]) {
      const e = await errorOf(alice.as.mutation(api.auth.createSession, { agentId }));
      expect(e.code).toBe("invalid_argument");
      expect(e.message).toContain("agentId");
    }
  });

  test("metadata must be a JSON object of at most 4 KB", async () => {
    const { alice } = await setup();
    const create = (metadata: unknown) => alice.as.mutation(api.auth.createSession, { agentId: "a", metadata });
    // 4096 bytes exactly is fine: {"k":"…"} is 8 bytes + the value.
    await create({ k: "v".repeat(4096 - 8) });
    await create({ nested: { list: [1, "two", null, true, { deep: 1 }] } });
    for (const bad of [[1, 2], "text", 7, null, true, { k: "v".repeat(4096 - 7) }, { b: 10n }]) {
      const e = await errorOf(create(bad));
      expect(e.code).toBe("invalid_argument");
      expect(e.message).toContain("metadata must be a JSON object of at most 4096 bytes");
    }
  });

  test("scopes: syntax and membership are checked like PAT scopes", async () => {
    const { t, alice } = await setup();
    for (const scopes of [["nope:perm"], ["ghost=work:read"], ["*", "work:read"], ["acme=tokens:read"]]) {
      const e = await errorOf(alice.as.mutation(api.auth.createSession, { agentId: "a", scopes }));
      expect(e.code).toBe("invalid_argument");
    }
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a", scopes: ["tokens:read"] });
    expect((await row(t, s.sessionId))!.scopes).toEqual([{ permissions: ["tokens:read"] }]);
  });

  test("no credential → unauthenticated; an agent session cannot mint sessions", async () => {
    const { t, alice } = await setup();
    expect((await errorOf(t.mutation(api.auth.createSession, { agentId: "a" }))).code).toBe("unauthenticated");
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const e = await errorOf(asToken(t, "agent", s.sessionId).mutation(api.auth.createSession, { agentId: "b" }));
    expect(e.code).toBe("forbidden");
  });

  test(`creation is rate limited per person (${LIMITS.sessionCreate.max} per minute)`, async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    for (let i = 0; i < LIMITS.sessionCreate.max; i++) {
      await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 60 });
    }
    const e = await errorOf(alice.as.mutation(api.auth.createSession, { agentId: "a" }));
    expect(e.code).toBe("rate_limited");
    // Someone else is not affected.
    const bob = await signIn(t, "bob@example.com");
    await bob.as.mutation(api.auth.createSession, { agentId: "a" });
    // The window passes.
    vi.setSystemTime(Date.now() + LIMITS.sessionCreate.windowMs);
    await alice.as.mutation(api.auth.createSession, { agentId: "a" });
  });

  test("creation is audited, without secrets", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "bot-7", ttl: 120 });
    const events = await audit(t);
    const created = events.find((e) => e.action === "session.created");
    expect(created).toMatchObject({ userId: alice.userId, actorKind: "user", actorId: alice.userId, targetId: s.sessionId });
    expect(created!.details).toContain("agent=bot-7");
    expect(JSON.stringify(events)).not.toContain(s.token);
    expect(JSON.stringify(events)).not.toContain(s.refreshToken);
  });
});

describe("PAT children", () => {
  test("a child's expiry and family lifetime are capped by the PAT's; it copies the PAT's scopes", async () => {
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "ci", scopes: ["tokens:read"], expiresIn: 600 });
    const s = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "child", ttl: 3600 });
    expect(s.expiresAt).toBe(pat.expiresAt);
    const r = (await row(t, s.sessionId))!;
    expect(r.parentTokenId).toBe(pat.tokenId);
    expect(r.parentScopes).toEqual([{ permissions: ["tokens:read"] }]);
    expect(r.familyExpiresAt).toBe(pat.expiresAt);
    // Creating a session is a use of the PAT.
    const used = await t.run(async (ctx) => await ctx.db.get("apiTokens", pat.tokenId));
    expect(used!.lastUsedAt).toBeGreaterThan(0);
    expect(await asToken(t, "agent", s.sessionId).query(api.sessions.listAgentSessions, {})).toHaveLength(1);
  });

  test("a child never gets more than its PAT: both scope sets must allow", async () => {
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "narrow", scopes: ["connections:read"] });
    // Asks for tokens:read, which the PAT lacks: created, but the PAT's scopes still bind it.
    const s = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, {
      agentId: "greedy",
      scopes: ["tokens:read"],
    });
    const e = await errorOf(asToken(t, "agent", s.sessionId).query(api.sessions.listAgentSessions, {}));
    expect(e.code).toBe("forbidden");
    // And a full-role child of that PAT is still only as wide as the PAT.
    const full = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "full" });
    expect((await errorOf(asToken(t, "agent", full.sessionId).query(api.sessions.listAgentSessions, {}))).code).toBe(
      "forbidden",
    );
  });

  test("revoking the PAT ends every live child at once", async () => {
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "parent", scopes: [] });
    const asPat = asToken(t, "pat", pat.tokenId);
    const a = await asPat.mutation(api.auth.createSession, { agentId: "a" });
    const b = await asPat.mutation(api.auth.createSession, { agentId: "b" });
    const b2 = await rotate(t, b.refreshToken);
    const own = await alice.as.mutation(api.auth.createSession, { agentId: "mine" });

    const res = await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    expect(res.sessionsEnded).toBe(2); // a and b2 (b was already refreshed)

    for (const s of [a, b2]) {
      expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual(INVALID);
      expect((await errorOf(asToken(t, "agent", s.sessionId).query(api.auth.viewer, {}))).code).toBe("revoked");
      expect((await errorOf(rotate(t, s.refreshToken))).code).toBe("revoked");
      expect((await row(t, s.sessionId))!.endReason).toBe("parent_revoked");
    }
    // A person's own session does not depend on the PAT.
    expect((await t.query(api.auth.validateSession, { token: own.token })).valid).toBe(true);
  });

  test("a child is not valid once its PAT is revoked, even before the children are ended", async () => {
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    const s = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "a" });
    // Simulate a revocation whose child clean-up has not run yet.
    await t.run(async (ctx) => await ctx.db.patch("apiTokens", pat.tokenId, { revokedAt: Date.now() }));
    expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual(INVALID);
    expect((await errorOf(rotate(t, s.refreshToken))).code).toBe("revoked");
  });

  test("a child's token is refused as a credential once its PAT is revoked, before the children are ended", async () => {
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    const s = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "a" });
    const asChild = asToken(t, "agent", s.sessionId);
    expect((await asChild.query(api.auth.viewer, {})).kind).toBe("agent");
    // A revocation whose batched child clean-up (endRevokedTokenSessions) has not run yet:
    // the child's own row is still live, only the PAT's record says revoked.
    await t.run(async (ctx) => await ctx.db.patch("apiTokens", pat.tokenId, { revokedAt: Date.now() }));
    expect((await row(t, s.sessionId))!.endedAt).toBeUndefined();
    expect((await errorOf(asChild.query(api.auth.viewer, {}))).code).toBe("revoked");
    expect((await errorOf(asChild.query(api.sessions.listAgentSessions, {}))).code).toBe("revoked");
    expect((await errorOf(asChild.mutation(api.auth.createSession, { agentId: "b" }))).code).toBe("revoked");
  });
});

describe("validateSession", () => {
  test("every bad token gets the identical answer", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    const live = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const ended = await alice.as.mutation(api.auth.createSession, { agentId: "b" });
    await t.mutation(api.auth.endSession, { token: ended.token });
    const refreshed = await alice.as.mutation(api.auth.createSession, { agentId: "c" });
    await rotate(t, refreshed.refreshToken);
    const short = await alice.as.mutation(api.auth.createSession, { agentId: "d", ttl: 60 });
    // Validly signed, but for no row we ever issued.
    const forged = (
      await signKeyholeToken({ kind: "agent", id: live.sessionId, expiresAt: Date.now() + 60_000, now: Date.now() })
    ).token;
    vi.setSystemTime(Date.now() + 61_000);

    const bad = [
      "",
      "garbage",
      live.token.slice(0, -2) + "xx",
      live.token + ".",
      live.refreshToken,
      forged,
      ended.token,
      refreshed.token,
      short.token,
      "x".repeat(10_000),
    ];
    for (const token of bad) expect(await t.query(api.auth.validateSession, { token })).toEqual(INVALID);
    expect((await t.query(api.auth.validateSession, { token: live.token })).valid).toBe(true);
  });
});

describe("expiry (controlled clock)", () => {
  test("a session token stops working at its expiry; its refresh token still rotates it", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 60 });
    vi.setSystemTime(s.expiresAt - 1000);
    expect((await t.query(api.auth.validateSession, { token: s.token })).valid).toBe(true);
    await asToken(t, "agent", s.sessionId).query(api.auth.viewer, {});

    vi.setSystemTime(s.expiresAt);
    expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual(INVALID);
    expect((await errorOf(asToken(t, "agent", s.sessionId).query(api.auth.viewer, {}))).code).toBe("expired");
    // Refreshing with the expired session token is refused; with the refresh token it works.
    expect((await errorOf(refresh(t, { token: s.token }))).code).toBe("expired");
    const n = await rotate(t, s.refreshToken);
    expect(n.expiresAt).toBe(Date.now() + 60_000); // keeps the session's ttl
    expect((await t.query(api.auth.validateSession, { token: n.token })).valid).toBe(true);
  });

  test("a family has an absolute lifetime of 30 days that refresh never extends", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    const start = Date.now();
    let s = await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 86400 });
    const familyEnd = (await row(t, s.sessionId))!.familyExpiresAt;
    expect(familyEnd).toBe(start + 30 * 86400_000);
    // Refresh daily up to the last half day: the last token is cut at the family's end.
    for (let day = 1; day < 30; day++) {
      vi.setSystemTime(start + day * 86400_000 - 3600_000);
      s = await rotate(t, s.refreshToken);
    }
    vi.setSystemTime(familyEnd - 3600_000);
    s = await rotate(t, s.refreshToken);
    expect(s.expiresAt).toBe(familyEnd);
    vi.setSystemTime(familyEnd);
    const e = await errorOf(rotate(t, s.refreshToken));
    expect(e.code).toBe("expired");
    expect(e.message).toContain("absolute lifetime");
  });
});

describe("endSession and the owner's views", () => {
  test("endSession: dead on the next request, audited, idempotent", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const agent = asToken(t, "agent", s.sessionId);
    await agent.query(api.auth.viewer, {});
    expect(await t.mutation(api.auth.endSession, { token: s.token })).toBeNull();
    expect((await errorOf(agent.query(api.auth.viewer, {}))).code).toBe("revoked");
    expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual(INVALID);
    await t.mutation(api.auth.endSession, { token: s.token });
    const ends = (await audit(t)).filter((e) => e.action === "session.ended");
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ userId: alice.userId, actorKind: "agent", targetId: s.sessionId });
    expect((await errorOf(t.mutation(api.auth.endSession, { token: "junk" }))).code).toBe("unauthenticated");
  });

  test("list my live sessions; end one; end all for an agent; never someone else's", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    const bob = await signIn(t, "bob@example.com");
    const a1 = await alice.as.mutation(api.auth.createSession, { agentId: "worker", metadata: { n: 1 } });
    const a2 = await alice.as.mutation(api.auth.createSession, { agentId: "worker" });
    const a3 = await alice.as.mutation(api.auth.createSession, { agentId: "other" });
    const short = await alice.as.mutation(api.auth.createSession, { agentId: "other", ttl: 60 });
    const b1 = await bob.as.mutation(api.auth.createSession, { agentId: "worker" });
    vi.setSystemTime(Date.now() + 61_000); // `short` expires

    const list = await alice.as.query(api.sessions.listAgentSessions, {});
    expect(list.map((s) => s._id).sort()).toEqual([a1.sessionId, a2.sessionId, a3.sessionId].sort());
    expect(list.find((s) => s._id === a1.sessionId)).toMatchObject({ agentId: "worker", metadata: { n: 1 } });
    expect(JSON.stringify(list)).not.toMatch(/Hash|khr_/);
    expect(list.some((s) => s._id === short.sessionId)).toBe(false);

    const e = await errorOf(alice.as.mutation(api.sessions.endAgentSession, { sessionId: b1.sessionId }));
    expect(e.code).toBe("not_found");
    expect((await t.query(api.auth.validateSession, { token: b1.token })).valid).toBe(true);

    await alice.as.mutation(api.sessions.endAgentSession, { sessionId: a3.sessionId });
    expect(await t.query(api.auth.validateSession, { token: a3.token })).toEqual(INVALID);

    expect(await alice.as.mutation(api.sessions.endAgentSessionsForAgent, { agentId: "worker" })).toEqual({ ended: 2 });
    expect(await t.query(api.auth.validateSession, { token: a1.token })).toEqual(INVALID);
    expect(await t.query(api.auth.validateSession, { token: a2.token })).toEqual(INVALID);
    expect((await t.query(api.auth.validateSession, { token: b1.token })).valid).toBe(true);
    expect(await alice.as.query(api.sessions.listAgentSessions, {})).toEqual([]);
  });

  test("ending sessions is for the signed-in owner, not for tokens", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    for (const who of [asToken(t, "pat", pat.tokenId), asToken(t, "agent", s.sessionId)]) {
      expect((await errorOf(who.mutation(api.sessions.endAgentSession, { sessionId: s.sessionId }))).code).toBe(
        "forbidden",
      );
      expect((await errorOf(who.mutation(api.sessions.endAgentSessionsForAgent, { agentId: "a" }))).code).toBe(
        "forbidden",
      );
    }
    expect((await errorOf(t.query(api.sessions.listAgentSessions, {}))).code).toBe("unauthenticated");
  });
});

describe("housekeeping", () => {
  test("rows of families expired more than 7 days ago are purged; others stay", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    const start = Date.now();
    const old = await alice.as.mutation(api.auth.createSession, { agentId: "old" });
    await rotate(t, old.refreshToken);
    vi.setSystemTime(start + 20 * 86400_000);
    const young = await alice.as.mutation(api.auth.createSession, { agentId: "young" });
    vi.setSystemTime(start + 37 * 86400_000 + 1);
    expect(await t.mutation(internal.sessions.purgeExpiredSessions, {})).toEqual({ deleted: 2 });
    const left = await t.run(async (ctx) => await ctx.db.query("agentSessions").collect());
    expect(left.map((r) => r._id)).toEqual([young.sessionId]);
  });
});
