// Liveness rules (convex/model/liveness.ts, shared/tokens.ts) that mutation
// testing (issue 19) showed no fast test pinned: a deleted parent PAT, what
// each dead credential says, and the exact expiry instants.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { asToken, makeTest, signIn } from "../helpers/convex";
import { errorOf } from "../helpers/errors";

afterEach(() => {
  vi.useRealTimers();
});

async function setup() {
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  return { t, alice };
}

describe("a child session's parent PAT", () => {
  test("gone (deleted) counts as revoked", async () => {
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    const child = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "bot" });
    await t.run(async (ctx) => await ctx.db.delete("apiTokens", pat.tokenId));
    expect(await errorOf(asToken(t, "agent", child.sessionId).query(api.auth.viewer, {}))).toMatchObject({
      code: "revoked",
      message: "the PAT this agent session came from has been revoked",
    });
    expect((await t.query(api.auth.validateSession, { token: child.token })).valid).toBe(false);
  });

  test("expired says so", async () => {
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    const child = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "bot" });
    await t.run(async (ctx) => await ctx.db.patch("apiTokens", pat.tokenId, { expiresAt: Date.now() - 1 }));
    expect(await errorOf(asToken(t, "agent", child.sessionId).query(api.auth.viewer, {}))).toMatchObject({
      code: "expired",
      message: "the PAT this agent session came from has expired",
    });
  });
});

describe("expiry instants: alive before, dead at the instant", () => {
  test("a PAT", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await setup();
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [], expiresIn: 60 });
    const as = asToken(t, "pat", pat.tokenId);
    vi.setSystemTime(pat.expiresAt - 1);
    expect((await as.query(api.auth.viewer, {})).kind).toBe("pat");
    vi.setSystemTime(pat.expiresAt);
    expect(await errorOf(as.query(api.auth.viewer, {}))).toMatchObject({ code: "expired", message: "this token has expired" });
    await t.run(async (ctx) => await ctx.db.patch("apiTokens", pat.tokenId, { revokedAt: Date.now() }));
    expect(await errorOf(as.query(api.auth.viewer, {}))).toMatchObject({ code: "revoked", message: "this token has been revoked" });
  });

  test("an agent session, and an ended one", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "bot", ttl: 60 });
    const as = asToken(t, "agent", s.sessionId);
    vi.setSystemTime(s.expiresAt - 1);
    expect((await as.query(api.auth.viewer, {})).kind).toBe("agent");
    vi.setSystemTime(s.expiresAt);
    expect(await errorOf(as.query(api.auth.viewer, {}))).toMatchObject({ code: "expired", message: "this agent session has expired" });
    vi.setSystemTime(s.expiresAt - 1);
    await t.mutation(api.auth.endSession, { token: s.token });
    expect(await errorOf(as.query(api.auth.viewer, {}))).toMatchObject({ code: "revoked", message: "this agent session has ended" });
  });

  test("a sign-in: its absolute expiry, and its newest refresh token's", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await setup();
    const until = Date.now() + 3600_000;
    await t.run(async (ctx) => await ctx.db.patch("authSessions", alice.sessionId, { expirationTime: until }));
    vi.setSystemTime(until - 1);
    expect(await alice.as.query(api.users.me, {})).not.toBeNull();
    vi.setSystemTime(until);
    expect(await errorOf(alice.as.query(api.users.me, {}))).toMatchObject({ code: "unauthenticated", message: "this sign-in has ended: sign in again" });

    const bob = await signIn(t, "bob@example.com");
    const idle = Date.now() + 600_000;
    await t.run(async (ctx) => {
      await ctx.db.insert("authRefreshTokens", { sessionId: bob.sessionId, expirationTime: Date.now() - 1 });
      await ctx.db.insert("authRefreshTokens", { sessionId: bob.sessionId, expirationTime: idle }); // the newest decides
    });
    vi.setSystemTime(idle - 1);
    expect(await bob.as.query(api.users.me, {})).not.toBeNull();
    vi.setSystemTime(idle);
    expect(await errorOf(bob.as.query(api.users.me, {}))).toMatchObject({ code: "unauthenticated" });
  });
});
