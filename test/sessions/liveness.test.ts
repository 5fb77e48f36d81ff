// One liveness rule (convex/model/liveness.ts) on every surface. The
// attacker holds a child session of a PAT the owner has just revoked, while
// the batched ending of that PAT's children is still pending: no surface may
// call the child alive — not authorize()/principal, not validateSession, not
// RFC 7662 introspection, not refreshSession.
import { describe, expect, test } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { sha256Hex } from "../../convex/model/crypto";
import { CHILD_SESSION_BATCH } from "../../convex/model/tokens";
import { asToken, makeTest, signIn, type TestConvex } from "../helpers/convex";
import { errorOf } from "../helpers/errors";

/** Live child rows of a PAT inserted directly (fillers that come first in the revocation batch). */
async function fillerChildren(t: TestConvex, userId: Id<"users">, tokenId: Id<"apiTokens">, n: number) {
  await t.run(async (ctx) => {
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const id = await ctx.db.insert("agentSessions", {
        userId,
        agentId: `filler-${i}`,
        familyId: "",
        parentTokenId: tokenId,
        scopes: [],
        parentScopes: [],
        tokenHash: `filler-${i}`,
        refreshHash: "",
        createdAt: now,
        expiresAt: now + 3600_000,
        familyExpiresAt: now + 3600_000,
      });
      await ctx.db.patch("agentSessions", id, { familyId: id });
    }
  });
}

describe("a child of a revoked PAT, its row not yet ended (batched revocation pending)", () => {
  test("every surface says it is dead", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "parent", scopes: [] });
    // More children than one revocation batch ends; the attacker's is the last one.
    await fillerChildren(t, alice.userId, pat.tokenId, CHILD_SESSION_BATCH);
    const child = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "victim-bot" });
    const probe = { kind: "agent" as const, id: child.sessionId as string, tokenHash: await sha256Hex(child.token) };
    expect(await alice.as.query(internal.httpInternal.introspect, probe)).toMatchObject({ active: true });

    const revoked = await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    expect(revoked.sessionsEnded).toBe(CHILD_SESSION_BATCH);
    // The continuation is scheduled but has not run: the child's own row still looks live.
    const row = await t.run(async (ctx) => await ctx.db.get("agentSessions", child.sessionId));
    expect(row!.endedAt).toBeUndefined();

    // RFC 7662 introspection (by the owner, who may introspect her tokens).
    expect(await alice.as.query(internal.httpInternal.introspect, probe)).toEqual({ active: false });
    // validateSession
    expect((await t.query(api.auth.validateSession, { token: child.token })).valid).toBe(false);
    // principal / authorize(): every function the child calls
    expect((await errorOf(asToken(t, "agent", child.sessionId).query(api.auth.viewer, {}))).code).toBe("revoked");
    // the HTTP API and MCP authenticate through the same principal
    const http = await asToken(t, "agent", child.sessionId).mutation(internal.httpInternal.authenticate, {});
    expect(http.ok).toBe(false);
    // refreshSession, both ways
    expect(await t.mutation(api.auth.refreshSession, { token: child.token })).toMatchObject({ ok: false, code: "revoked" });
    expect(await t.mutation(api.auth.refreshSession, { refreshToken: child.refreshToken })).toMatchObject({
      ok: false,
      code: "revoked",
    });
  });

  test("an expired parent ends its children on every surface too", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "short", scopes: [] });
    const child = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, { agentId: "bot" });
    const probe = { kind: "agent" as const, id: child.sessionId as string, tokenHash: await sha256Hex(child.token) };
    // The PAT's record says expired (the child's own expiry is still ahead).
    await t.run(async (ctx) => await ctx.db.patch("apiTokens", pat.tokenId, { expiresAt: Date.now() - 1 }));
    expect(await alice.as.query(internal.httpInternal.introspect, probe)).toEqual({ active: false });
    expect((await t.query(api.auth.validateSession, { token: child.token })).valid).toBe(false);
    expect((await errorOf(asToken(t, "agent", child.sessionId).query(api.auth.viewer, {}))).code).toBe("expired");
    expect(await t.mutation(api.auth.refreshSession, { refreshToken: child.refreshToken })).toMatchObject({
      ok: false,
      code: "expired",
    });
  });
});

describe("a sign-in", () => {
  test("idle past its inactive duration (newest refresh token expired) is dead for every call", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    expect((await alice.as.query(api.auth.viewer, {})).kind).toBe("user");
    await t.run(async (ctx) => {
      await ctx.db.insert("authRefreshTokens", { sessionId: alice.sessionId, expirationTime: Date.now() - 1 });
    });
    expect((await errorOf(alice.as.query(api.auth.viewer, {}))).code).toBe("unauthenticated");
    expect(await alice.as.query(api.auth.isAuthenticated, {})).toBe(false);
  });
});
