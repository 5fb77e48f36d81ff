// The audit log as people read it (convex/model/auditLog.ts): one naming
// style, names instead of ids (only your own records are named), and filters
// by event type, token, actor kind and date that never reach another
// person's log.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { AUDIT_ACTIONS, canonicalAction } from "../../convex/model/auditLog";
import { asToken, makeTest, signIn } from "../helpers/convex";
import { codeOf } from "../helpers/errors";
import { joinOrg } from "../helpers/invite";

afterEach(() => {
  vi.useRealTimers();
});

const page = { numItems: 100, cursor: null };
const T0 = Date.parse("2030-03-01T12:00:00Z");

async function setup() {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  const bob = await signIn(t, "bob@example.com");
  await alice.as.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await joinOrg(alice, "acme", bob, "admin");
  const ci = await alice.as.mutation(api.auth.createApiToken, { name: "ci", scopes: [] });
  vi.setSystemTime(T0 + 60_000);
  const other = await alice.as.mutation(api.auth.createApiToken, { name: "other", scopes: ["work:read"] });
  vi.setSystemTime(T0 + 120_000);
  const session = await asToken(t, "pat", ci.tokenId).mutation(api.auth.createSession, { agentId: "bot-7", ttl: 600 });
  vi.setSystemTime(T0 + 180_000);
  await alice.as.mutation(api.auth.revokeApiToken, { tokenId: other.tokenId });
  return { t, alice, bob, ci, other, session };
}

describe("audit log", () => {
  test("one naming style: <thing>.<past participle>, for new rows and rows written before", async () => {
    const { t, alice } = await setup();
    for (const a of AUDIT_ACTIONS) expect(a).toMatch(/^[a-z_]+\.[a-z_]+$/);
    for (const a of AUDIT_ACTIONS) expect(canonicalAction(a)).toBe(a);
    const stored = await t.run(async (ctx) => (await ctx.db.query("auditEvents").collect()).map((e) => e.action));
    expect(stored).toContain("session.created");
    expect(stored).not.toContain("session.create");
    // A row written under the old name reads under the new one.
    await t.run(async (ctx) => {
      await ctx.db.insert("auditEvents", { userId: alice.userId, action: "session.end", actorKind: "user", at: Date.now() });
    });
    const { page: events } = await alice.as.query(api.audit.list, { paginationOpts: page });
    expect(events[0].action).toBe("session.ended");
    for (const e of events) expect(AUDIT_ACTIONS as readonly string[]).toContain(e.action);
  });

  test("names instead of ids: the token that acted, the session's agent, the member's email", async () => {
    const { alice, ci, session } = await setup();
    const { page: events } = await alice.as.query(api.audit.list, { paginationOpts: page });
    const created = events.find((e) => e.action === "session.created")!;
    expect(created).toMatchObject({ actorKind: "pat", actorName: "ci", targetName: "bot-7", tokenId: ci.tokenId });
    expect(created.details).toContain("token=ci");
    const added = events.find((e) => e.action === "member.added")!;
    expect(added.details).toContain("user=bob@example.com");
    expect(added.targetName).toBe("acme");
    // No record id is left in any sentence's details.
    const ids = [ci.tokenId, session.sessionId, alice.userId];
    for (const e of events) for (const id of ids) expect(e.details ?? "").not.toContain(id);
  });

  test("another person's token is never named in my log", async () => {
    const { t, alice, bob } = await setup();
    await alice.as.mutation(api.orgs.setRole, { org: "acme", userId: bob.userId, role: "owner" });
    const bobs = await bob.as.mutation(api.auth.createApiToken, { name: "bobs-secret-name", scopes: [] });
    // Bob's token changes alice's role: the event lands in both logs.
    await asToken(t, "pat", bobs.tokenId).mutation(api.orgs.setRole, { org: "acme", userId: alice.userId, role: "admin" });
    const { page: events } = await alice.as.query(api.audit.list, { paginationOpts: page });
    const changed = events.find((e) => e.action === "member.role_changed" && e.actorKind === "pat")!;
    expect(changed).toBeDefined();
    expect(changed.actorName).toBeUndefined();
    expect(JSON.stringify(events)).not.toContain("bobs-secret-name");
    // Bob's own log names his token.
    const bobsLog = await bob.as.query(api.audit.list, { paginationOpts: page, tokenId: bobs.tokenId });
    expect(bobsLog.page.map((e) => [e.action, e.actorKind === "pat" ? e.actorName : e.targetName])).toEqual([
      ["member.role_changed", "bobs-secret-name"],
      ["token.created", "bobs-secret-name"],
    ]);
  });

  test("filters: token, event type, actor kind, date range — and they combine", async () => {
    const { alice, ci, other } = await setup();
    const list = async (f: Record<string, unknown>) =>
      (await alice.as.query(api.audit.list, { paginationOpts: page, ...f })).page.map((e) => e.action);
    expect(await list({ tokenId: ci.tokenId })).toEqual(["session.created", "token.created"]);
    expect(await list({ tokenId: other.tokenId })).toEqual(["token.revoked", "token.created"]);
    expect(await list({ action: "token.created" })).toEqual(["token.created", "token.created"]);
    expect(await list({ actorKind: "pat" })).toEqual(["session.created"]);
    expect(await list({ from: T0 + 60_000, to: T0 + 180_000 })).toEqual(["session.created", "token.created"]);
    expect(await list({ action: "token.created", from: T0 + 30_000 })).toEqual(["token.created"]);
    expect(await list({ tokenId: other.tokenId, action: "token.revoked" })).toEqual(["token.revoked"]);
    expect(await list({ action: "nothing.matches" })).toEqual([]);
  });

  test("bad filters are invalid_argument; a token without tokens:read is refused", async () => {
    const { t, alice, other, ci } = await setup();
    for (const action of ["", "token", "Token.Created", "x".repeat(80) + ".y"]) {
      expect(await codeOf(alice.as.query(api.audit.list, { paginationOpts: page, action }))).toBe("invalid_argument");
    }
    expect(await codeOf(alice.as.query(api.audit.list, { paginationOpts: page, from: -1 }))).toBe("invalid_argument");
    expect(await codeOf(alice.as.query(api.audit.list, { paginationOpts: page, to: Number.NaN }))).toBe("invalid_argument");
    const narrow = await alice.as.mutation(api.auth.createApiToken, { name: "narrow", scopes: ["work:read"] });
    expect(await codeOf(asToken(t, "pat", narrow.tokenId).query(api.audit.list, { paginationOpts: page }))).toBe("forbidden");
    void other;
    void ci;
  });
});
