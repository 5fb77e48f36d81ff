// principal.ts and authorize.ts rules that mutation testing (issue 19) showed
// no fast test pinned: malformed sign-in subjects, what each refusal says,
// an org permission without an org, and an agent session's last use.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { authorize, resolveResource } from "../../convex/model/authorize";
import { LAST_USE_INTERVAL_MS } from "../../convex/model/principal";
import { TEST_ISSUER, TEST_SITE_URL } from "../helpers/env";
import { codeOf, errorOf, messageOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "../tokens/fixtures";

afterEach(() => {
  vi.useRealTimers();
});

describe("sign-in subjects", () => {
  test("a subject that is not `user|session` of real ids is an unknown credential", async () => {
    const { t, alice } = await world();
    for (const subject of ["garbage", `${alice.userId}`, `|${alice.sessionId}`, `${alice.userId}|`, `${alice.sessionId}|${alice.userId}`]) {
      const e = await errorOf(t.withIdentity({ issuer: TEST_SITE_URL, subject }).query(api.users.me, {}));
      expect(e, subject).toMatchObject({ code: "unauthenticated", message: "credential not recognized" });
    }
  });
});

describe("keyhole tokens whose record is gone, or whose subject is malformed", () => {
  test("are unknown credentials (unauthenticated), never a crash; no credential at all says how to sign in", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    const agent = await agentSessionFor(t, alice.userId);
    await t.run(async (ctx) => {
      await ctx.db.delete("apiTokens", pat.tokenId);
      await ctx.db.delete("agentSessions", agent.sessionId);
    });
    for (const as of [pat.as, agent.as, t.withIdentity({ issuer: TEST_ISSUER, subject: "pat:not/an-id" })]) {
      expect(await errorOf(as.query(api.users.me, {}))).toMatchObject({ code: "unauthenticated", message: "credential not recognized" });
    }
    expect(await errorOf(t.query(api.users.me, {}))).toMatchObject({ code: "unauthenticated", message: "sign in or present a keyhole token" });
  });
});

describe("what a refusal says (the rule that refused)", () => {
  test("role, scopes, and item are named; the org permission needs an org", async () => {
    const { t, alice, bob } = await world();
    expect(await messageOf(bob.as.mutation(api.items.put, { workspace: "acme/site", name: "x", data: 1 }))).toBe(
      'role viewer does not grant work:write on acme/site item "x"',
    );
    const pat = await patFor(t, alice, ["acme/site=work:read"]);
    expect(await messageOf(pat.as.mutation(api.items.put, { workspace: "acme/site", name: "x", data: 1 }))).toBe(
      'this token\'s scopes do not grant work:write on acme/site item "x"',
    );
    expect(await messageOf(pat.as.query(api.orgs.listMembers, { org: "acme" }))).toBe(
      "this token's scopes do not grant members:read on acme",
    );
    const noTokensRead = await patFor(t, alice, ["acme=work:read"]);
    expect(await messageOf(noTokensRead.as.query(api.audit.list, { paginationOpts: { numItems: 1, cursor: null } }))).toBe(
      "this token lacks tokens:read",
    );
    // An org permission asked with no org at all is refused, not crashed.
    const e = await errorOf(alice.as.run(async (ctx) => await authorize(ctx, "org:read", null)));
    expect(e).toMatchObject({ code: "forbidden", message: "org:read needs an organization or workspace" });
  });

  test("a malformed path is invalid_argument; a non-member's org reads like a missing one", async () => {
    const { alice } = await world();
    for (const path of ["Acme", "acme/site/x", "", "/site"]) {
      expect(await codeOf(alice.as.run(async (ctx) => await resolveResource(ctx, path))), path).toBe("invalid_argument");
    }
    expect(await messageOf(alice.as.query(api.items.get, { workspace: "evil/den", name: "loot" }))).toBe('no access to "evil/den"');
    expect(await messageOf(alice.as.query(api.orgs.listMembers, { org: "evil" }))).toBe('no access to "evil"');
  });

  test("interactive-only functions tell a PAT and an agent session apart", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    const agent = await agentSessionFor(t, alice.userId);
    expect(await messageOf(pat.as.query(api.auth.listApiTokens, {}))).toMatch(/^PATs cannot create or revoke other PATs: sign in interactively to /);
    expect(await messageOf(agent.as.query(api.auth.listApiTokens, {}))).toMatch(/^agent sessions cannot .*: sign in interactively$/);
  });
});

describe("an agent session's last use", () => {
  test("recorded with the request's IP and user agent, at most once a minute", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    const agent = await agentSessionFor(t, alice.userId);
    const seen = async () => await t.run(async (ctx) => await ctx.db.get("agentSessions", agent.sessionId));
    const put = (ua: string) =>
      agent.as
        .withRequestMetadata({ ip: "203.0.113.9", userAgent: ua + "x".repeat(400) })
        .mutation(api.items.put, { workspace: "acme/site", name: "n", data: 1 });
    const start = Date.now();
    await put("first");
    expect(await seen()).toMatchObject({ lastSeenAt: start, lastSeenIp: "203.0.113.9" });
    expect((await seen())!.lastSeenUserAgent).toHaveLength(256);
    expect((await seen())!.lastSeenUserAgent!.startsWith("first")).toBe(true);
    vi.setSystemTime(start + LAST_USE_INTERVAL_MS - 1);
    await put("second");
    expect((await seen())!.lastSeenAt).toBe(start); // within the minute: no write
    vi.setSystemTime(start + LAST_USE_INTERVAL_MS);
    await put("third");
    expect(await seen()).toMatchObject({ lastSeenAt: start + LAST_USE_INTERVAL_MS });
    expect((await seen())!.lastSeenUserAgent!.startsWith("third")).toBe(true);
  });
});

describe("a PAT's last use", () => {
  test("recorded on use in a mutation, again exactly one interval later, not before", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    const used = async () => (await t.run(async (ctx) => await ctx.db.get("apiTokens", pat.tokenId)))!.lastUsedAt;
    const put = () => pat.as.mutation(api.items.put, { workspace: "acme/site", name: "n", data: 1 });
    const start = Date.now();
    await put();
    expect(await used()).toBe(start);
    vi.setSystemTime(start + LAST_USE_INTERVAL_MS - 1);
    await put();
    expect(await used()).toBe(start);
    vi.setSystemTime(start + LAST_USE_INTERVAL_MS);
    await put();
    expect(await used()).toBe(start + LAST_USE_INTERVAL_MS);
  });
});
