// Web-session (device) rules (convex/model/webSessions.ts) that mutation
// testing (issue 19) found no fast test pinned: device facts kept and
// refreshed, last activity, list order, the audit trail of sign-outs, and the
// bounded batches of sign-out clean-up. Each test fails when its rule breaks.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { REFRESH_TOKEN_BATCH, SIGN_OUT_BATCH } from "../../convex/model/webSessions";
import { asUser, makeTest, signIn, type TestConvex } from "../helpers/convex";
import { errorOf } from "../helpers/errors";

afterEach(() => {
  vi.useRealTimers();
});

/** Another sign-in of `userId` (another device), with `refreshTokens` refresh tokens. */
async function device(t: TestConvex, userId: Id<"users">, refreshTokens = 0) {
  const authSessionId = await t.run(async (ctx) => {
    const id = await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + 30 * 86400_000 });
    for (let i = 0; i < refreshTokens; i++) {
      await ctx.db.insert("authRefreshTokens", { sessionId: id, expirationTime: Date.now() + 86400_000 });
    }
    return id;
  });
  return { authSessionId, as: asUser(t, userId, authSessionId) };
}

/** Inserts `n` more sign-ins of `userId` (no refresh tokens). */
async function manySignIns(t: TestConvex, userId: Id<"users">, n: number) {
  await t.run(async (ctx) => {
    for (let i = 0; i < n; i++) {
      await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + 86400_000 });
    }
  });
}

const refreshTokensOf = async (t: TestConvex, authSessionId: Id<"authSessions">) =>
  await t.run(
    async (ctx) =>
      (await ctx.db.query("authRefreshTokens").withIndex("sessionId", (q) => q.eq("sessionId", authSessionId)).collect())
        .length,
  );

/** The functions scheduled so far (follow-up batches and clean-ups), by name. */
const scheduled = async (t: TestConvex) =>
  await t.run(async (ctx) => (await ctx.db.system.query("_scheduled_functions").collect()).map((f) => f.name));

const signOutEvents = async (t: TestConvex) =>
  await t.run(async (ctx) =>
    (await ctx.db.query("auditEvents").collect())
      .filter((e) => e.action === "web_session.signed_out")
      .map((e) => ({ targetType: e.targetType, targetId: e.targetId, details: e.details })),
  );

describe("device facts", () => {
  test("cleaned: surrounding spaces trimmed; a value with nothing printable is stored as absent", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const rec = await alice.as.mutation(api.auth.createWebSession, { userAgent: "  Phone 1.0  ", ipAddress: " \r\n\t " });
    expect(rec.userAgent).toBe("Phone 1.0");
    expect(rec).not.toHaveProperty("ipAddress");
    const [listed] = await alice.as.query(api.sessions.listDevices, {});
    expect(listed.userAgent).toBe("Phone 1.0");
    expect(listed).not.toHaveProperty("ipAddress");
  });

  test("recording again touches last activity, keeps the facts it was not given and replaces those it was", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const start = Date.now();
    await alice.as.mutation(api.auth.createWebSession, { userAgent: "A", ipAddress: "192.0.2.1" });
    const stored = async () => await alice.as.query(api.auth.validateWebSession, { sessionId: alice.sessionId });

    vi.setSystemTime(start + 5000);
    const again = await alice.as.mutation(api.auth.createWebSession, {});
    expect(again).toMatchObject({ userAgent: "A", ipAddress: "192.0.2.1", lastActiveAt: start + 5000 });
    expect(await stored()).toMatchObject({ userAgent: "A", ipAddress: "192.0.2.1", lastActiveAt: start + 5000 });

    vi.setSystemTime(start + 9000);
    const moved = await alice.as.mutation(api.auth.createWebSession, { userAgent: "B", ipAddress: "192.0.2.2" });
    expect(moved).toMatchObject({ userAgent: "B", ipAddress: "192.0.2.2" });
    expect(await stored()).toMatchObject({ userAgent: "B", ipAddress: "192.0.2.2", lastActiveAt: start + 9000 });
  });

  test("the device record is audited against the sign-in it belongs to", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    await alice.as.mutation(api.auth.createWebSession, { userAgent: "A" });
    const events = await t.run(async (ctx) => await ctx.db.query("auditEvents").collect());
    expect(events.find((e) => e.action === "web_session.created")).toMatchObject({
      targetType: "authSession",
      targetId: alice.sessionId,
      userAgent: "A",
    });
  });

  test("a userId that is not the caller's is refused with a message saying why", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const mallory = await signIn(t, "mallory@example.com");
    const e = await errorOf(mallory.as.mutation(api.auth.createWebSession, { userId: alice.userId }));
    expect(e.code).toBe("forbidden");
    expect(e.message).toMatch(/userId must be your own/);
  });
});

describe("last activity and order", () => {
  test("last activity is the latest of the sign-in's start, its device record's touch and its newest refresh", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const start = Date.now();
    const laptop = await device(t, alice.userId);
    vi.setSystemTime(start + 1000);
    await alice.as.mutation(api.auth.createWebSession, {}); // alice: touched at +1000…
    await laptop.as.mutation(api.auth.createWebSession, {});
    vi.setSystemTime(start + 3000);
    await t.run(async (ctx) => {
      // …and refreshed at +3000; the laptop refreshed at +3000, then touched its record at +4000.
      for (const sessionId of [alice.sessionId, laptop.authSessionId]) {
        await ctx.db.insert("authRefreshTokens", { sessionId, expirationTime: start + 86400_000 });
      }
    });
    vi.setSystemTime(start + 4000);
    await laptop.as.mutation(api.auth.createWebSession, {});
    vi.setSystemTime(start + 5000);

    const check = async (id: Id<"authSessions">) => (await alice.as.query(api.auth.validateWebSession, { sessionId: id })).lastActiveAt;
    expect(await check(alice.sessionId)).toBeCloseTo(start + 3000, 0); // the refresh is the latest
    expect(await check(laptop.authSessionId)).toBe(start + 4000); // the device touch is the latest
    const listed = Object.fromEntries(
      (await alice.as.query(api.sessions.listDevices, {})).map((d) => [d.authSessionId, d.lastActiveAt]),
    );
    expect(listed[alice.sessionId]).toBeCloseTo(start + 3000, 0);
    expect(listed[laptop.authSessionId]).toBe(start + 4000);
  });

  test("devices are listed this one first, then the most recently active first", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com"); // s0: never touched
    const start = Date.now();
    const s1 = await device(t, alice.userId);
    const current = await device(t, alice.userId);
    const s3 = await device(t, alice.userId);
    for (const [d, at] of [
      [current, 10_000],
      [s3, 20_000],
      [s1, 30_000],
    ] as const) {
      vi.setSystemTime(start + at);
      await d.as.mutation(api.auth.createWebSession, {});
    }
    const order = (await current.as.query(api.sessions.listDevices, {})).map((d) => d.authSessionId);
    expect(order).toEqual([current.authSessionId, s1.authSessionId, s3.authSessionId, alice.sessionId]);
  });
});

describe("signing out", () => {
  test("someone else's sign-in and an unknown id get the same not_found, with a message", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const bob = await signIn(t, "bob@example.com");
    const theirs = await errorOf(bob.as.mutation(api.sessions.signOutDevice, { authSessionId: alice.sessionId }));
    const unknown = await errorOf(bob.as.mutation(api.sessions.signOutDevice, { authSessionId: "nope" }));
    expect(theirs).toEqual({ code: "not_found", message: "no such sign-in" });
    expect(unknown).toEqual(theirs);
  });

  test("each sign-out is audited as what it was, against the sign-in; signing out nothing writes no event", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const phone = await device(t, alice.userId);
    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: phone.authSessionId });
    const others = [await device(t, alice.userId), await device(t, alice.userId)];
    expect(await alice.as.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: others.length });
    expect(await alice.as.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: 0 });
    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: alice.sessionId });

    expect(await signOutEvents(t)).toEqual([
      { targetType: "authSession", targetId: phone.authSessionId, details: "signed out one device" },
      { targetType: "authSession", targetId: alice.sessionId, details: "signed out all other devices (2)" },
      { targetType: "authSession", targetId: alice.sessionId, details: "signed out this device" },
    ]);
    // Signing out this device ends it: its next call fails.
    expect((await errorOf(alice.as.query(api.sessions.listDevices, {}))).code).toBe("unauthenticated");
  });

  test("a sign-out with few refresh tokens deletes them all at once and schedules nothing", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const phone = await device(t, alice.userId, 2);
    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: phone.authSessionId });
    await device(t, alice.userId, 2);
    expect(await alice.as.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: 1 });
    expect(await scheduled(t)).toEqual([]);
  });
});

describe("bounded clean-up batches", () => {
  test("refresh tokens past one batch: a batch goes with the sign-out, the rest in a scheduled clean-up", async () => {
    vi.useFakeTimers();
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const phone = await device(t, alice.userId, REFRESH_TOKEN_BATCH + 1);
    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: phone.authSessionId });
    expect(await refreshTokensOf(t, phone.authSessionId)).toBe(1);
    expect(await scheduled(t)).toEqual(["sessions:cleanupRefreshTokens"]);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await refreshTokensOf(t, phone.authSessionId)).toBe(0);
  });

  test("exactly one batch of refresh tokens is deleted with the sign-out and schedules nothing", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const phone = await device(t, alice.userId, REFRESH_TOKEN_BATCH);
    await alice.as.mutation(api.sessions.signOutDevice, { authSessionId: phone.authSessionId });
    expect(await refreshTokensOf(t, phone.authSessionId)).toBe(0);
    expect(await scheduled(t)).toEqual([]);
  });

  test("one call signs out at most a batch, even when this sign-in is not among the first read", async () => {
    vi.useFakeTimers();
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    await manySignIns(t, alice.userId, SIGN_OUT_BATCH); // with alice's first: a batch + 1 before the current one
    const current = await device(t, alice.userId);
    expect(await current.as.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: SIGN_OUT_BATCH });
    expect(await scheduled(t)).toEqual(["sessions:continueSignOut"]);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const left = await t.run(async (ctx) => (await ctx.db.query("authSessions").collect()).map((s) => s._id));
    expect(left).toEqual([current.authSessionId]);
  });

  test("exactly a batch of sign-ins (this one included) needs no second pass", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    await manySignIns(t, alice.userId, SIGN_OUT_BATCH - 1);
    expect(await alice.as.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: SIGN_OUT_BATCH - 1 });
    expect(await scheduled(t)).toEqual([]);
    expect(await alice.as.query(api.sessions.listDevices, {})).toHaveLength(1);
  });
});
