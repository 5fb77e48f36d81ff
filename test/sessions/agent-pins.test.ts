// Agent-session rules (convex/model/agentSessions.ts) that mutation testing
// (npm run test:mutation, issue 19) found no fast test pinned: each test is
// named after its rule and fails when the rule breaks.
import { ConvexError } from "convex/values";
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import type { Doc } from "../../convex/_generated/dataModel";
import {
  checkMetadata,
  insertSessionRow,
  jwtExpiryMs,
  purgeExpiredSessions,
  sessionTtlOf,
} from "../../convex/model/agentSessions";
import { TOKEN_PREFIX } from "../../convex/model/keys";
import { asToken } from "../helpers/convex";
import { errorOf } from "../helpers/errors";
import { audit, INVALID, refresh, row, setup } from "./agentSessionSetup";

afterEach(() => {
  vi.useRealTimers();
});

/** The keyhole error message `f` throws (fails the test when it does not throw one). */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConvexError);
    const data = (e as ConvexError<{ code: string; message: string }>).data;
    expect(data.code).toBe("invalid_argument");
    return data.message;
  }
  throw new Error("expected a refusal");
}

/** `{a: {a: … 1}}` with the leaf `1` nested `levels` deep. */
const nested = (levels: number): unknown => (levels === 0 ? 1 : { a: nested(levels - 1) });

describe("metadata is a JSON object of plain values, at most 8 levels and 4 KB", () => {
  test("values nested 8 levels deep are accepted, 9 refused", () => {
    expect(checkMetadata(nested(8))).toEqual(nested(8));
    expect(refusal(() => checkMetadata(nested(9)))).toContain("nested more than 8 levels");
    // Arrays count as levels too.
    expect(refusal(() => checkMetadata({ a: [[[[[[[[1]]]]]]]] }))).toContain("nested more than 8 levels");
    expect(checkMetadata({ a: [[[[[[[1]]]]]]] })).toBeDefined();
  });

  test("numbers must be finite", () => {
    for (const n of [Infinity, -Infinity, NaN]) {
      expect(refusal(() => checkMetadata({ n }))).toContain("numbers must be finite");
      expect(refusal(() => checkMetadata({ list: [1, n] }))).toContain("numbers must be finite");
    }
    expect(checkMetadata({ n: -1.5, z: 0 })).toEqual({ n: -1.5, z: 0 });
  });

  test('keys may not be empty or start with "$" (Convex reserves them), at any depth', () => {
    expect(refusal(() => checkMetadata({ "": 1 }))).toContain('key "" is not allowed');
    expect(refusal(() => checkMetadata({ $id: 1 }))).toContain('key "$id" is not allowed');
    expect(refusal(() => checkMetadata({ ok: { $deep: 1 } }))).toContain('key "$deep"');
    expect(refusal(() => checkMetadata({ ok: [{ "": 1 }] }))).toContain('key ""');
    // A long key is quoted by its first 32 characters only.
    expect(refusal(() => checkMetadata({ ["$" + "k".repeat(100)]: 1 }))).toContain(`key "$${"k".repeat(31)}" is`);
    // Only a leading "$": elsewhere it is an ordinary character.
    expect(checkMetadata({ a$: 1, "b$c": 2 })).toEqual({ a$: 1, "b$c": 2 });
  });

  test("only plain objects: class instances, dates, maps and bytes are refused; a null-prototype object is plain", () => {
    class Thing {
      x = 1;
    }
    for (const v of [new Thing(), new Date(0), new Map()]) {
      expect(refusal(() => checkMetadata(v))).toContain("got an object that is not plain");
      expect(refusal(() => checkMetadata({ v }))).toContain("an object that is not plain is not a JSON value");
    }
    expect(refusal(() => checkMetadata(new ArrayBuffer(4)))).toContain("got bytes");
    expect(refusal(() => checkMetadata({ b: new ArrayBuffer(4) }))).toContain("bytes is not a JSON value");
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: "v" });
    expect(checkMetadata(bare)).toBe(bare);
    expect(checkMetadata({ inner: bare })).toEqual({ inner: bare });
  });

  test("the refusal names what was given instead of an object", () => {
    expect(refusal(() => checkMetadata(null))).toContain("got null");
    expect(refusal(() => checkMetadata([1]))).toContain("got an array");
    expect(refusal(() => checkMetadata("text"))).toContain("got a string");
    expect(refusal(() => checkMetadata(7))).toContain("got a number");
    expect(refusal(() => checkMetadata({ f: () => 1 }))).toContain("a function is not a JSON value");
    expect(refusal(() => checkMetadata({ u: undefined }))).toContain("a undefined is not a JSON value");
    expect(refusal(() => checkMetadata({ b: 10n }))).toContain("a bigint is not a JSON value");
  });

  test("the 4 KB limit counts UTF-8 bytes, not characters", () => {
    // {"k":"…"} is 8 bytes + the value; "é" is 2 bytes.
    expect(checkMetadata({ k: "é".repeat(2044) })).toBeDefined(); // 4096 bytes
    expect(refusal(() => checkMetadata({ k: "é".repeat(2045) }))).toContain("it is 4098 bytes");
  });

  test("no metadata stays undefined; null, true and strings are leaf values", () => {
    expect(checkMetadata(undefined)).toBeUndefined();
    expect(checkMetadata({ a: null, b: true, c: "s", d: [] })).toEqual({ a: null, b: true, c: "s", d: [] });
  });
});

/** A token-shaped text: keyhole header prefix, the given payload, a dummy signature. */
function tokenWith(payload: string, signature = "sig"): string {
  return `${TOKEN_PREFIX}In0.${Buffer.from(payload).toString("base64url")}.${signature}`;
}

describe("jwtExpiryMs reads the exp claim of keyhole-shaped tokens only", () => {
  test("exp in seconds becomes milliseconds, whatever the payload's base64 padding", () => {
    // Payload lengths in each residue mod 3 → base64url texts of each length mod 4 (0, 2, 3).
    for (const pad of ["", "x", "xx"]) {
      const payload = JSON.stringify({ exp: 1_700_000_000, p: pad });
      expect(jwtExpiryMs(tokenWith(payload))).toBe(1_700_000_000_000);
    }
  });

  test("base64url's '-' and '_' decode as '+' and '/'", () => {
    const payload = JSON.stringify({ exp: 42, s: "ÿÿÿ>>>???" });
    const b64 = Buffer.from(payload).toString("base64url");
    expect(b64).toContain("-");
    expect(b64).toContain("_");
    expect(jwtExpiryMs(tokenWith(payload))).toBe(42_000);
  });

  test("not ours: another header, not three parts, no numeric exp, not JSON → null", () => {
    const good = tokenWith(JSON.stringify({ exp: 42 }));
    expect(jwtExpiryMs(good)).toBe(42_000);
    expect(jwtExpiryMs(good.slice(1))).toBeNull();
    expect(jwtExpiryMs("x" + good)).toBeNull();
    expect(jwtExpiryMs(good + ".x")).toBeNull();
    expect(jwtExpiryMs(good.slice(0, good.lastIndexOf(".")))).toBeNull();
    expect(jwtExpiryMs(tokenWith(JSON.stringify({ exp: "42" })))).toBeNull();
    expect(jwtExpiryMs(tokenWith(JSON.stringify({ sub: "x" })))).toBeNull();
    expect(jwtExpiryMs(tokenWith("not json"))).toBeNull();
  });

  test("at most 4,096 characters are read", () => {
    const base = tokenWith(JSON.stringify({ exp: 42 }), "");
    const atLimit = base + "s".repeat(4096 - base.length);
    expect(atLimit).toHaveLength(4096);
    expect(jwtExpiryMs(atLimit)).toBe(42_000);
    expect(jwtExpiryMs(atLimit + "s")).toBeNull();
  });
});

describe("a session's ttl: its own, else (older rows) its lifetime clamped to 60 s – 24 h", () => {
  const rowOf = (r: { ttl?: number; createdAt: number; expiresAt: number }) => r as Doc<"agentSessions">;
  test("a stored ttl wins over the row's lifetime", () => {
    expect(sessionTtlOf(rowOf({ ttl: 600, createdAt: 0, expiresAt: 120_000 }))).toBe(600);
  });
  test("without one: the lifetime in whole seconds, rounded", () => {
    expect(sessionTtlOf(rowOf({ createdAt: 1000, expiresAt: 1000 + 600_400 }))).toBe(600);
    expect(sessionTtlOf(rowOf({ createdAt: 1000, expiresAt: 1000 + 600_600 }))).toBe(601);
  });
  test("without one: never below 60 s nor above 24 h", () => {
    expect(sessionTtlOf(rowOf({ createdAt: 0, expiresAt: 30_000 }))).toBe(60);
    expect(sessionTtlOf(rowOf({ createdAt: 0, expiresAt: 40 * 86400_000 }))).toBe(86400);
  });
});

describe("who may create and end agent sessions, and what is recorded", () => {
  test("an agent session cannot mint sessions, and is told to use a PAT or sign in", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const e = await errorOf(asToken(t, "agent", s.sessionId).mutation(api.auth.createSession, { agentId: "b" }));
    expect(e).toEqual({ code: "forbidden", message: "agent sessions cannot create sessions: use a PAT or sign in" });
  });

  test("creation is audited with the agent, ttl, parent PAT and scope count, nothing more", async () => {
    const { t, alice } = await setup();
    const own = await alice.as.mutation(api.auth.createSession, { agentId: "own", ttl: 120 });
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    const child = await asToken(t, "pat", pat.tokenId).mutation(api.auth.createSession, {
      agentId: "child",
      ttl: 60,
      scopes: ["tokens:read"],
    });
    const created = (await audit(t)).filter((e) => e.action === "session.created");
    expect(created.map((e) => [e.targetType, e.targetId, e.details])).toEqual([
      ["agentSession", own.sessionId, "agent=own ttl=120s"],
      ["agentSession", child.sessionId, `agent=child ttl=60s parent=${pat.tokenId} scopes=1`],
    ]);
  });

  test("ending by token: the row says why, and it is audited once, at the first end", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    await t.mutation(api.auth.endSession, { token: s.token });
    const ended = () => audit(t).then((all) => all.filter((e) => e.action === "session.ended"));
    expect((await ended()).map((e) => [e.actorKind, e.targetType, e.targetId, e.details])).toEqual([
      ["agent", "agentSession", s.sessionId, "agent=a by=token"],
    ]);
    expect((await row(t, s.sessionId))!.endReason).toBe("ended");
    await t.mutation(api.auth.endSession, { token: s.token });
    expect(await ended()).toHaveLength(1);
    expect(await errorOf(t.mutation(api.auth.endSession, { token: "junk" }))).toEqual({
      code: "unauthenticated",
      message: "unknown session token",
    });
  });

  // Attacker: guesses session ids for the owner's "end" button.
  test("the owner ends a session by id; an unknown or malformed id is not_found, never a crash", async () => {
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a" });
    const gone = await alice.as.mutation(api.auth.createSession, { agentId: "gone" });
    await t.run(async (ctx) => await ctx.db.delete("agentSessions", gone.sessionId));
    for (const sessionId of [gone.sessionId, "not-an-id"]) {
      expect(await errorOf(alice.as.mutation(api.sessions.endAgentSession, { sessionId }))).toEqual({
        code: "not_found",
        message: "no such agent session",
      });
    }
    await alice.as.mutation(api.sessions.endAgentSession, { sessionId: s.sessionId });
    expect((await row(t, s.sessionId))!.endReason).toBe("ended");
    const ended = () => audit(t).then((all) => all.filter((e) => e.action === "session.ended"));
    expect((await ended()).map((e) => [e.actorKind, e.actorId, e.targetType, e.targetId, e.details])).toEqual([
      ["user", alice.userId, "agentSession", s.sessionId, "agent=a by=owner"],
    ]);
    // Ending it again changes nothing and records nothing.
    await alice.as.mutation(api.sessions.endAgentSession, { sessionId: s.sessionId });
    expect(await ended()).toHaveLength(1);
  });

  test("ending all of an agent's sessions: each row says why, one audit event, none when nothing was live", async () => {
    const { t, alice } = await setup();
    const a = await alice.as.mutation(api.auth.createSession, { agentId: "worker" });
    await alice.as.mutation(api.auth.createSession, { agentId: "worker" });
    expect(await alice.as.mutation(api.sessions.endAgentSessionsForAgent, { agentId: "worker" })).toEqual({ ended: 2 });
    expect((await row(t, a.sessionId))!.endReason).toBe("ended");
    const ended = () => audit(t).then((all) => all.filter((e) => e.action === "session.ended"));
    expect((await ended()).map((e) => [e.actorKind, e.targetType, e.targetId, e.details])).toEqual([
      ["user", "agent", "worker", "agent=worker by=owner count=2"],
    ]);
    expect(await alice.as.mutation(api.sessions.endAgentSessionsForAgent, { agentId: "worker" })).toEqual({ ended: 0 });
    expect(await alice.as.mutation(api.sessions.endAgentSessionsForAgent, { agentId: "nobody" })).toEqual({ ended: 0 });
    expect(await ended()).toHaveLength(1);
  });
});

describe("a session token is good until its own exp claim", () => {
  // The JWT's exp is in whole seconds (rounded down); the row's expiry may lie up to 1 s later.
  test("from the second its exp passes it is invalid and cannot be refreshed, though its row still lives", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.ceil(Date.now() / 1000) * 1000 + 700); // 700 ms past a whole second
    const { t, alice } = await setup();
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "a", ttl: 60 });
    const exp = jwtExpiryMs(s.token)!;
    expect(s.expiresAt - exp).toBe(700);
    vi.setSystemTime(exp - 1);
    expect((await t.query(api.auth.validateSession, { token: s.token })).valid).toBe(true);
    vi.setSystemTime(exp);
    expect(await t.query(api.auth.validateSession, { token: s.token })).toEqual(INVALID);
    expect(await errorOf(refresh(t, { token: s.token }))).toEqual({
      code: "expired",
      message: "this session token has expired: refresh with the refresh token",
    });
    expect((await row(t, s.sessionId))!.endedAt).toBeUndefined();
  });
});

describe("OAuth rows and housekeeping", () => {
  test("an OAuth row's token never outlives its grant's family", async () => {
    const { t, alice } = await setup();
    const now = Date.now();
    const pair = await t.run(
      async (ctx) =>
        await insertSessionRow(ctx, {
          userId: alice.userId,
          agentId: "app",
          scopes: [],
          ttlS: 3600,
          familyExpiresAt: now + 90_000,
          audience: "https://example.test/mcp",
        }),
    );
    expect(pair.expiresAt).toBe(now + 90_000);
    expect((await row(t, pair.sessionId))!.expiresAt).toBe(now + 90_000);
  });

  test("the purge goes in batches of 500 and says when more remain", async () => {
    const { t, alice } = await setup();
    const now = Date.now();
    await t.run(async (ctx) => {
      for (let i = 0; i < 501; i++) {
        await ctx.db.insert("agentSessions", {
          userId: alice.userId,
          agentId: "old",
          familyId: `f${i}`,
          scopes: [],
          tokenHash: `t${i}`,
          refreshHash: `r${i}`,
          createdAt: 0,
          expiresAt: 1000,
          familyExpiresAt: 1000,
        });
      }
    });
    const purge = () => t.run(async (ctx) => await purgeExpiredSessions(ctx, now));
    expect(await purge()).toEqual({ deleted: 500, more: true });
    expect(await purge()).toEqual({ deleted: 1, more: false });
  });
});

// Module-level constants (the ttl bound, agent-id syntax, refresh-token prefix, family lifetime,
// retention, the invalid answer) are evaluated once per module load; Stryker counts them as covered
// by whichever test loads the module first. This test loads the modules afresh inside itself
// (vi.resetModules, then a new convex-test world), so a mutant of a constant is live while it runs.
describe("with the modules loaded afresh", () => {
  test("ttl ≤ 24 h, agent-id syntax, khr_ refresh tokens, 30-day families kept 7 days more, one invalid answer", async () => {
    vi.resetModules();
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await setup();
    const start = Date.now();
    const create = (agentId: string, ttl?: number) => alice.as.mutation(api.auth.createSession, { agentId, ttl });
    const s = await create("x".repeat(128), 86400);
    expect((await errorOf(create("a", 86401))).code).toBe("invalid_argument");
    for (const agentId of ["", "x".repeat(129), "has space", "a/b"]) {
      expect((await errorOf(create(agentId))).code).toBe("invalid_argument");
    }
    expect(s.refreshToken).toMatch(/^khr_[A-Za-z0-9_-]{43}$/);
    const family = (await row(t, s.sessionId))!.familyExpiresAt;
    expect(family).toBe(start + 30 * 86400_000);
    expect(await t.query(api.auth.validateSession, { token: "junk" })).toEqual(INVALID);
    await t.mutation(api.auth.endSession, { token: s.token });
    vi.setSystemTime(family + 7 * 86400_000);
    expect(await t.mutation(internal.sessions.purgeExpiredSessions, {})).toEqual({ deleted: 0 });
    vi.setSystemTime(family + 7 * 86400_000 + 1);
    expect(await t.mutation(internal.sessions.purgeExpiredSessions, {})).toEqual({ deleted: 1 });
  });
});
