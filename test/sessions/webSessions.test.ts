// Web sessions (devices), function level (convex-test): record device facts
// for the current sign-in, validate, list, sign out one / all others.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { asToken, asUser, makeTest, signIn, type TestConvex } from "../helpers/convex";
import { errorOf } from "../helpers/errors";

/** Another sign-in of the same person (another device), with two refresh tokens. */
async function anotherSignIn(t: TestConvex, userId: Id<"users">, expiresInMs = 30 * 86400_000) {
  const authSessionId = await t.run(async (ctx) => {
    const id = await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + expiresInMs });
    for (let i = 0; i < 2; i++) {
      await ctx.db.insert("authRefreshTokens", { sessionId: id, expirationTime: Date.now() + 86400_000 });
    }
    return id;
  });
  return { authSessionId, as: asUser(t, userId, authSessionId) };
}

async function countFor(t: TestConvex, authSessionId: Id<"authSessions">) {
  return await t.run(async (ctx) => ({
    session: (await ctx.db.get("authSessions", authSessionId)) === null ? 0 : 1,
    refreshTokens: (
      await ctx.db
        .query("authRefreshTokens")
        .withIndex("sessionId", (q) => q.eq("sessionId", authSessionId))
        .collect()
    ).length,
    web: (
      await ctx.db
        .query("webSessions")
        .withIndex("by_auth_session", (q) => q.eq("authSessionId", authSessionId))
        .collect()
    ).length,
  }));
}

afterEach(() => {
  vi.useRealTimers();
});

describe("createWebSession", () => {
  test("records the current sign-in's device from request metadata, over the arguments", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const rec = await alice.as
      .withRequestMetadata({ ip: "203.0.113.7", userAgent: "Mozilla/5.0 (X11) Firefox/140" })
      .mutation(api.auth.createWebSession, { userAgent: "spoofed", ipAddress: "10.9.9.9" });
    expect(rec).toMatchObject({
      authSessionId: alice.sessionId,
      ipAddress: "203.0.113.7",
      userAgent: "Mozilla/5.0 (X11) Firefox/140",
    });
    const events = await t.run(async (ctx) => await ctx.db.query("auditEvents").collect());
    expect(events.find((e) => e.action === "web_session.created")).toMatchObject({
      userId: alice.userId,
      targetId: alice.sessionId,
      ip: "203.0.113.7",
    });
  });

  test("falls back to the arguments when the runtime gives no metadata; cleans them", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const rec = await alice.as.mutation(api.auth.createWebSession, {
      userAgent: "CLI/1.0\r\nInjected: yes" + "x".repeat(400),
      ipAddress: "198.51.100.4",
    });
    expect(rec.ipAddress).toBe("198.51.100.4");
    expect(rec.userAgent).toMatch(/^CLI\/1\.0Injected: yes/);
    expect(rec.userAgent!.length).toBe(256);
  });

  test("idempotent per sign-in: one record, refreshed activity", async () => {
    const t = await makeTest();
    vi.useFakeTimers();
    const alice = await signIn(t, "alice@example.com");
    const first = await alice.as.mutation(api.auth.createWebSession, { userAgent: "A" });
    vi.setSystemTime(Date.now() + 5000);
    const second = await alice.as.mutation(api.auth.createWebSession, {});
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.userAgent).toBe("A");
    expect(second.createdAt).toBe(first.createdAt);
    expect(second.lastActiveAt).toBe(first.lastActiveAt + 5000);
    expect(await countFor(t, alice.sessionId)).toMatchObject({ web: 1 });
  });

  test("only a signed-in person, only for their own current sign-in", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    expect((await errorOf(t.mutation(api.auth.createWebSession, {}))).code).toBe("unauthenticated");
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    for (const who of [asToken(t, "pat", pat.tokenId), asToken(t, "agent", s.sessionId)]) {
      expect((await errorOf(who.mutation(api.auth.createWebSession, {}))).code).toBe("forbidden");
    }
    // A signed-out sign-in cannot record anything.
    const other = await anotherSignIn(t, alice.userId);
    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: other.authSessionId });
    expect((await errorOf(other.as.mutation(api.auth.createWebSession, {}))).code).toBe("unauthenticated");
  });

  // The seed passes `userId`: the caller's own is accepted, anyone else's is refused.
  test("userId: your own is accepted; someone else's is forbidden and records nothing for them", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const mallory = await signIn(t, "mallory@example.com");
    const own = await alice.as.mutation(api.auth.createWebSession, { userId: alice.userId, userAgent: "A", ipAddress: "192.0.2.7" });
    expect(own.authSessionId).toBe(alice.sessionId);
    const e = await errorOf(
      mallory.as.mutation(api.auth.createWebSession, { userId: alice.userId, userAgent: "evil", ipAddress: "203.0.113.9" }),
    );
    expect(e.code).toBe("forbidden");
    expect(await countFor(t, mallory.sessionId)).toMatchObject({ web: 0 });
    const devices = await alice.as.query(api.sessions.listDevices, {});
    expect(JSON.stringify(devices)).not.toContain("evil");
    // A malformed or unknown id is not the caller's either.
    expect((await errorOf(alice.as.mutation(api.auth.createWebSession, { userId: "nope" }))).code).toBe("forbidden");
  });
});

describe("validateWebSession", () => {
  test("answers for the caller's own sessions only; everything else is the same `valid: false`", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const bob = await signIn(t, "bob@example.com");
    const rec = await alice.as.mutation(api.auth.createWebSession, { userAgent: "UA" });
    const laptop = await anotherSignIn(t, alice.userId);

    const byWebId = await alice.as.query(api.auth.validateWebSession, { sessionId: rec.sessionId });
    expect(byWebId).toMatchObject({ valid: true, authSessionId: alice.sessionId, current: true, userAgent: "UA" });
    expect(await alice.as.query(api.auth.validateWebSession, { sessionId: alice.sessionId })).toEqual(byWebId);
    expect(await alice.as.query(api.auth.validateWebSession, { sessionId: laptop.authSessionId })).toMatchObject({
      valid: true,
      current: false,
      userAgent: null,
    });

    const notValid = await bob.as.query(api.auth.validateWebSession, { sessionId: rec.sessionId });
    expect(notValid.valid).toBe(false);
    expect(Object.values(notValid).filter((x) => x !== null)).toEqual([false]);
    expect(await bob.as.query(api.auth.validateWebSession, { sessionId: alice.sessionId })).toEqual(notValid);
    expect(await alice.as.query(api.auth.validateWebSession, { sessionId: "junk" })).toEqual(notValid);
    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: laptop.authSessionId });
    expect(await alice.as.query(api.auth.validateWebSession, { sessionId: laptop.authSessionId })).toEqual(notValid);
  });

  test("an expired sign-in is not valid (absolute timeout)", async () => {
    const t = await makeTest();
    vi.useFakeTimers();
    const alice = await signIn(t, "alice@example.com");
    const short = await anotherSignIn(t, alice.userId, 60_000);
    expect((await alice.as.query(api.auth.validateWebSession, { sessionId: short.authSessionId })).valid).toBe(true);
    vi.setSystemTime(Date.now() + 60_000);
    expect((await alice.as.query(api.auth.validateWebSession, { sessionId: short.authSessionId })).valid).toBe(false);
    expect((await errorOf(short.as.query(api.sessions.listDevices, {}))).code).toBe("unauthenticated");
  });
});

describe("idle timeout", () => {
  test("a sign-in whose newest refresh token expired (idle) is neither listed nor valid", async () => {
    const t = await makeTest();
    vi.useFakeTimers();
    const alice = await signIn(t, "alice@example.com");
    const idle = await anotherSignIn(t, alice.userId); // its refresh tokens expire in a day
    const active = await anotherSignIn(t, alice.userId);
    vi.setSystemTime(Date.now() + 86400_000 - 1000);
    // `active` refreshes its JWT (a new refresh token), `idle` does not.
    await t.run(async (ctx) => {
      await ctx.db.insert("authRefreshTokens", { sessionId: active.authSessionId, expirationTime: Date.now() + 86400_000 });
    });
    vi.setSystemTime(Date.now() + 1000);
    const ids = (await alice.as.query(api.sessions.listDevices, {})).map((d) => d.authSessionId);
    expect(ids).toContain(active.authSessionId);
    expect(ids).not.toContain(idle.authSessionId);
    expect((await alice.as.query(api.auth.validateWebSession, { sessionId: idle.authSessionId })).valid).toBe(false);
    expect((await alice.as.query(api.auth.validateWebSession, { sessionId: active.authSessionId })).valid).toBe(true);
  });
});

describe("devices", () => {
  test("lists my live sign-ins, this one marked current, including unrecorded ones", async () => {
    const t = await makeTest();
    vi.useFakeTimers();
    const alice = await signIn(t, "alice@example.com");
    const bob = await signIn(t, "bob@example.com");
    await alice.as.withRequestMetadata({ ip: "192.0.2.1", userAgent: "Desktop" }).mutation(api.auth.createWebSession, {});
    const phone = await anotherSignIn(t, alice.userId);
    await phone.as.withRequestMetadata({ ip: "192.0.2.2", userAgent: "Phone" }).mutation(api.auth.createWebSession, {});
    const cli = await anotherSignIn(t, alice.userId); // never recorded its device
    await anotherSignIn(t, alice.userId, 1000); // about to expire
    await bob.as.mutation(api.auth.createWebSession, {});
    vi.setSystemTime(Date.now() + 1000);

    const devices = await alice.as.query(api.sessions.listDevices, {});
    expect(devices).toHaveLength(3);
    expect(devices[0]).toMatchObject({ authSessionId: alice.sessionId, current: true, userAgent: "Desktop", ipAddress: "192.0.2.1" });
    expect(devices.filter((d) => d.current)).toHaveLength(1);
    expect(devices.find((d) => d.authSessionId === phone.authSessionId)).toMatchObject({ userAgent: "Phone", current: false });
    const unrecorded = devices.find((d) => d.authSessionId === cli.authSessionId)!;
    expect(unrecorded.userAgent).toBeUndefined();
    expect(unrecorded._id).toBe(cli.authSessionId);
    // The phone, as seen from the phone, is the current one.
    const fromPhone = await phone.as.query(api.sessions.listDevices, {});
    expect(fromPhone.find((d) => d.current)!.authSessionId).toBe(phone.authSessionId);
    // Tokens don't see devices.
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    expect((await errorOf(asToken(t, "pat", pat.tokenId).query(api.sessions.listDevices, {}))).code).toBe("forbidden");
  });

  test("sign out one device: its record, session and refresh tokens go; its next call fails", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const bob = await signIn(t, "bob@example.com");
    const phone = await anotherSignIn(t, alice.userId);
    await phone.as.mutation(api.auth.createWebSession, { userAgent: "Phone" });
    await phone.as.query(api.sessions.listDevices, {});

    // Not someone else's.
    expect((await errorOf(bob.as.mutation(api.sessions.signOutDevice, { authSessionId: phone.authSessionId }))).code).toBe(
      "not_found",
    );
    expect((await errorOf(alice.as.mutation(api.sessions.signOutDevice, { authSessionId: "junk" }))).code).toBe("not_found");

    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: phone.authSessionId });
    expect(await countFor(t, phone.authSessionId)).toEqual({ session: 0, refreshTokens: 0, web: 0 });
    expect((await errorOf(phone.as.query(api.sessions.listDevices, {}))).code).toBe("unauthenticated");
    expect((await errorOf(phone.as.query(api.auth.viewer, {}))).code).toBe("unauthenticated");
    await alice.as.query(api.sessions.listDevices, {});
    const events = await t.run(async (ctx) => await ctx.db.query("auditEvents").collect());
    expect(events.some((e) => e.action === "web_session.signed_out" && e.targetId === phone.authSessionId)).toBe(true);
  });

  test("sign out all other devices: this one stays, the others fail on their next call", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const bob = await signIn(t, "bob@example.com");
    const others = [await anotherSignIn(t, alice.userId), await anotherSignIn(t, alice.userId)];

    expect(await alice.as.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: 2 });
    for (const o of others) {
      expect((await errorOf(o.as.query(api.sessions.listDevices, {}))).code).toBe("unauthenticated");
      expect(await countFor(t, o.authSessionId)).toEqual({ session: 0, refreshTokens: 0, web: 0 });
    }
    expect(await alice.as.query(api.sessions.listDevices, {})).toHaveLength(1);
    expect(await bob.as.query(api.sessions.listDevices, {})).toHaveLength(1);
    expect(await alice.as.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: 0 });
  });

  test("very many sign-ins are signed out in scheduled batches", async () => {
    const t = await makeTest();
    vi.useFakeTimers();
    const alice = await signIn(t, "alice@example.com");
    await t.run(async (ctx) => {
      for (let i = 0; i < 130; i++) {
        const id = await ctx.db.insert("authSessions", { userId: alice.userId, expirationTime: Date.now() + 86400_000 });
        await ctx.db.insert("authRefreshTokens", { sessionId: id, expirationTime: Date.now() + 86400_000 });
      }
    });
    const first = await alice.as.mutation(api.sessions.signOutOtherDevices, {});
    expect(first.signedOut).toBe(100);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const left = await t.run(async (ctx) => ({
      sessions: await ctx.db.query("authSessions").collect(),
      refresh: await ctx.db.query("authRefreshTokens").collect(),
    }));
    expect(left.sessions.map((s) => s._id)).toEqual([alice.sessionId]);
    expect(left.refresh).toHaveLength(0);
  });
});
