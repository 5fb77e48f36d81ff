// PAT lifecycle through the public functions (convex-test): create, list,
// get, revoke, expiry, last use, validation, rate limits, audit, secrecy.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { sha256Hex } from "../../convex/model/crypto";
import { verifyKeyholeToken } from "../../convex/model/http/verify";
import { TOKEN_PREFIX } from "../../convex/model/keys";
import { LIMITS } from "../../convex/model/rateLimit";
import { asToken, makeTest, signIn } from "../helpers/convex";
import { TEST_ISSUER } from "../helpers/env";
import { codeOf, messageOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "./fixtures";

afterEach(() => {
  vi.useRealTimers();
});

describe("createApiToken", () => {
  test("returns the token once; stores only its SHA-256 and signing key id", async () => {
    const { t, alice } = await world();
    const created = await alice.as.mutation(api.auth.createApiToken, {
      name: "deploy-bot",
      scopes: ["acme/site=work:read,work:write"],
      description: "CI deploys",
      type: "MCP",
      expiresIn: 3600,
    });
    expect(created.name).toBe("deploy-bot");
    expect(created.scopes).toEqual([{ resource: "acme/site", permissions: ["work:read", "work:write"] }]);
    expect(created.warnings).toBeUndefined();
    expect(created.token.startsWith(TOKEN_PREFIX)).toBe(true);
    const row = await t.run(async (ctx) => await ctx.db.get("apiTokens", created.tokenId));
    expect(row!.tokenHash).toBe(await sha256Hex(created.token));
    expect(row!.keyId).toMatch(/^kh-/);
    expect(row!.type).toBe("MCP");
    expect(row!.description).toBe("CI deploys");
    // The JWT's exp and the record agree to the second; jti is the row id.
    const jwks = (await (await t.fetch("/keyhole/jwks.json")).json()) as { keys: never[] };
    const verified = await verifyKeyholeToken(created.token, jwks.keys);
    expect(verified).toEqual({
      kind: "pat",
      id: created.tokenId,
      expiresAt: created.expiresAt,
      expired: false,
      keyId: row!.keyId,
      tokenHash: row!.tokenHash,
    });
  });

  test("the token text appears in no table, list result, error or audit event", async () => {
    const { t, alice } = await world();
    const created = await alice.as.mutation(api.auth.createApiToken, { name: "secret", scopes: [] });
    await alice.as.mutation(api.auth.revokeApiToken, { tokenId: created.tokenId });
    const dump = await t.run(async (ctx) => {
      const tables = ["apiTokens", "auditEvents", "rateLimits", "users", "orgs", "memberships", "items"] as const;
      const all: unknown[] = [];
      for (const table of tables) all.push(...(await ctx.db.query(table).collect()));
      return JSON.stringify(all);
    });
    const signature = created.token.split(".")[2];
    expect(dump).not.toContain(signature);
    const listed = JSON.stringify(await alice.as.query(api.auth.listApiTokens, {}));
    const got = JSON.stringify(await alice.as.query(api.auth.getApiToken, { tokenId: created.tokenId }));
    const audit = JSON.stringify(await alice.as.query(api.audit.list, { paginationOpts: { numItems: 50, cursor: null } }));
    for (const text of [listed, got, audit]) expect(text).not.toContain(signature);
    expect(audit).toContain("token.created");
    expect(audit).toContain("token.revoked");
  });

  test("defaults: type PAT, 30 days, blank scopes = full role", async () => {
    const { alice } = await world();
    const before = Date.now();
    const created = await alice.as.mutation(api.auth.createApiToken, { name: "default", scopes: [] });
    expect(created.scopes).toEqual([]);
    expect(created.expiresAt).toBeGreaterThanOrEqual(Math.floor((before + 30 * 86400_000) / 1000) * 1000);
    expect(created.expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 86400_000);
    const info = await alice.as.query(api.auth.getApiToken, { tokenId: created.tokenId });
    expect(info).toMatchObject({ type: "PAT", status: "active", description: null, lastUsedAt: null, revokedAt: null });
  });

  test.each([
    ["empty name", { name: "" }, /1-64 characters/],
    ["name with a space", { name: "my token" }, /1-64 characters/],
    ["65-char name", { name: "x".repeat(65) }, /1-64 characters/],
    ["description over 256", { description: "d".repeat(257) }, /at most 256/],
    ["expiresIn below 60 s", { expiresIn: 59 }, /from 60 .* to 31536000/],
    ["expiresIn above 365 days", { expiresIn: 365 * 86400 + 1 }, /from 60 .* to 31536000/],
    ["fractional expiresIn", { expiresIn: 90.5 }, /whole seconds/],
    ["unknown permission", { scopes: ["work:delete"] }, /unknown permission "work:delete"/],
    ["malformed resource", { scopes: ["Acme Corp=work:read"] }, /malformed/],
    ["duplicate (resource, permission)", { scopes: ["acme=work:read", "acme=work:read,work:write"] }, /listed twice/],
    ["an org the user is not in", { scopes: ["evil=work:read"] }, /"evil".*member/],
    ["a workspace the user is not in", { scopes: ["evil/den=work:read"] }, /"evil\/den".*member/],
    ["a workspace that does not exist", { scopes: ["acme/nope=work:read"] }, /"acme\/nope".*member/],
    ["a personal permission on an org", { scopes: ["acme=tokens:read"] }, /your own account/],
    ["\"*\" combined with more", { scopes: ["*", "work:read"] }, /cannot be combined/],
  ])("invalid_argument: %s", async (_label, override, message) => {
    const { alice } = await world();
    const args = { name: "ok", scopes: [] as string[], ...override };
    const call = alice.as.mutation(api.auth.createApiToken, args);
    expect(await messageOf(call)).toMatch(message);
    expect(await codeOf(alice.as.mutation(api.auth.createApiToken, args))).toBe("invalid_argument");
  });

  test("expiresIn bounds are inclusive: 60 s and 365 days", async () => {
    const { alice } = await world();
    expect(await codeOf(alice.as.mutation(api.auth.createApiToken, { name: "a", scopes: [], expiresIn: 60 }))).toBe("ok");
    expect(
      await codeOf(alice.as.mutation(api.auth.createApiToken, { name: "b", scopes: [], expiresIn: 365 * 86400 })),
    ).toBe("ok");
  });

  test("allowedMatches on an org-level or global entry restricts items too: `[]` there denies every item", async () => {
    // The attacker's reading of "acme, no items": stripping globs from
    // non-workspace entries turned that narrow token into one that reads
    // every item in every acme workspace.
    const { t, alice } = await world();
    const none = [{ resource: "acme", permissions: ["work:read"], allowedMatches: [] }];
    const orgPat = await patFor(t, alice, none);
    expect(orgPat.scopes).toEqual(none);
    expect(orgPat.warnings).toBeUndefined();
    for (const name of ["notes", "Signal/temp-1", "Config/db/url"]) {
      expect(await codeOf(orgPat.as.query(api.items.get, { workspace: "acme/site", name }))).toBe("forbidden");
    }
    const page = { numItems: 10, cursor: null };
    expect((await orgPat.as.query(api.items.list, { workspace: "acme/site", paginationOpts: page })).page).toEqual([]);
    const signals = [{ permissions: ["work:read"], allowedMatches: ["Signal/*"] }];
    const globalPat = await patFor(t, alice, signals);
    expect(globalPat.scopes).toEqual(signals);
    expect(await codeOf(globalPat.as.query(api.items.get, { workspace: "acme/site", name: "Signal/temp-1" }))).toBe("ok");
    expect(await codeOf(globalPat.as.query(api.items.get, { workspace: "acme/site", name: "notes" }))).toBe("forbidden");
    const listed = await globalPat.as.query(api.items.list, { workspace: "acme/site", paginationOpts: page });
    expect(listed.page.map((i: { name: string }) => i.name).sort()).toEqual(["Signal/temp-1", "Signal/temp-2"]);
  });

  test("granting more than the role is accepted (effective = scopes ∩ role)", async () => {
    const { t, bob } = await world();
    const pat = await patFor(t, bob, ["acme=work:write,work:read"]);
    expect(await codeOf(pat.as.query(api.items.get, { workspace: "acme/site", name: "notes" }))).toBe("ok");
    expect(await codeOf(pat.as.mutation(api.items.put, { workspace: "acme/site", name: "notes", data: 1 }))).toBe(
      "forbidden",
    );
  });

  test("names are unique among the owner's active tokens only", async () => {
    const { t, alice, carol } = await world();
    const first = await patFor(t, alice, [], { name: "dup" });
    expect(await codeOf(alice.as.mutation(api.auth.createApiToken, { name: "dup", scopes: [] }))).toBe("conflict");
    // Someone else may use the same name.
    expect(await codeOf(carol.as.mutation(api.auth.createApiToken, { name: "dup", scopes: [] }))).toBe("ok");
    // Once revoked, the name is free again.
    await alice.as.mutation(api.auth.revokeApiToken, { tokenId: first.tokenId });
    expect(await codeOf(alice.as.mutation(api.auth.createApiToken, { name: "dup", scopes: [] }))).toBe("ok");
  });

  test("a name held by an expired token is free again", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    await patFor(t, alice, [], { name: "short", expiresIn: 60 });
    vi.setSystemTime(Date.now() + 61_000);
    expect(await codeOf(alice.as.mutation(api.auth.createApiToken, { name: "short", scopes: [] }))).toBe("ok");
  });

  test(`creation is rate limited per person (${LIMITS.tokenCreate.max} per window)`, async () => {
    const t = await makeTest();
    const erin = await signIn(t, "erin@example.com");
    const frank = await signIn(t, "frank@example.com");
    for (let i = 0; i < LIMITS.tokenCreate.max; i++) {
      await erin.as.mutation(api.auth.createApiToken, { name: `n${i}`, scopes: [] });
    }
    const over = erin.as.mutation(api.auth.createApiToken, { name: "over", scopes: [] });
    expect(await codeOf(over)).toBe("rate_limited");
    // Another person is unaffected.
    expect(await codeOf(frank.as.mutation(api.auth.createApiToken, { name: "x", scopes: [] }))).toBe("ok");
  });

  test("invalid requests do not use up the rate limit", async () => {
    const t = await makeTest();
    const erin = await signIn(t, "erin@example.com");
    for (let i = 0; i < LIMITS.tokenCreate.max + 5; i++) {
      await codeOf(erin.as.mutation(api.auth.createApiToken, { name: "bad name", scopes: [] }));
    }
    expect(await codeOf(erin.as.mutation(api.auth.createApiToken, { name: "good", scopes: [] }))).toBe("ok");
  });
});

describe("only a person manages tokens", () => {
  test("a PAT cannot create, list, get or revoke tokens", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["*"]);
    const calls = [
      pat.as.mutation(api.auth.createApiToken, { name: "child", scopes: [] }),
      pat.as.query(api.auth.listApiTokens, {}),
      pat.as.query(api.auth.getApiToken, { tokenId: pat.tokenId }),
      pat.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId }),
    ];
    for (const call of calls) {
      expect(await messageOf(call)).toMatch(/PATs cannot create or revoke other PATs/);
    }
    expect(await codeOf(pat.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId }))).toBe("forbidden");
    // The token is untouched.
    expect((await alice.as.query(api.auth.getApiToken, { tokenId: pat.tokenId })).status).toBe("active");
  });

  test("an agent session cannot manage tokens either", async () => {
    const { t, alice } = await world();
    const agent = await agentSessionFor(t, alice.userId);
    expect(await codeOf(agent.as.mutation(api.auth.createApiToken, { name: "x", scopes: [] }))).toBe("forbidden");
    expect(await codeOf(agent.as.query(api.auth.listApiTokens, {}))).toBe("forbidden");
  });

  test("someone else's token reads as not found, and cannot be revoked", async () => {
    const { t, alice, mallory } = await world();
    const pat = await patFor(t, alice, []);
    expect(await codeOf(mallory.as.query(api.auth.getApiToken, { tokenId: pat.tokenId }))).toBe("not_found");
    expect(await codeOf(mallory.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId }))).toBe("not_found");
    expect(await codeOf(alice.as.query(api.auth.getApiToken, { tokenId: "not-an-id" }))).toBe("not_found");
    expect((await alice.as.query(api.auth.getApiToken, { tokenId: pat.tokenId })).status).toBe("active");
  });
});

describe("status, listing, expiry", () => {
  test("status is active / expired / revoked, and every kind stays listed (filterable)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    const a = await patFor(t, alice, [], { name: "a", expiresIn: 3600 });
    const e = await patFor(t, alice, [], { name: "e", expiresIn: 60 });
    const r = await patFor(t, alice, [], { name: "r", expiresIn: 3600 });
    await alice.as.mutation(api.auth.revokeApiToken, { tokenId: r.tokenId });
    vi.setSystemTime(Date.now() + 120_000);
    const all = (await alice.as.query(api.auth.listApiTokens, {})).tokens;
    expect(all.map((x) => [x.name, x.status])).toEqual([
      ["r", "revoked"],
      ["e", "expired"],
      ["a", "active"],
    ]);
    const names = async (status: "active" | "expired" | "revoked" | "all") =>
      (await alice.as.query(api.auth.listApiTokens, { status })).tokens.map((x) => x.name);
    expect(await names("active")).toEqual(["a"]);
    expect(await names("expired")).toEqual(["e"]);
    expect(await names("revoked")).toEqual(["r"]);
    expect(await names("all")).toEqual(["r", "e", "a"]);
    expect((await alice.as.query(api.auth.getApiToken, { tokenId: e.tokenId })).status).toBe("expired");
    void a;
  });

  test("an expired token is refused with code expired (controlled clock)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["acme/site=work:read"], { expiresIn: 600 });
    const read = () => pat.as.query(api.items.get, { workspace: "acme/site", name: "notes" });
    vi.setSystemTime(Date.now() + 599_000);
    expect(await codeOf(read())).toBe("ok");
    vi.setSystemTime(pat.expiresAt);
    expect(await codeOf(read())).toBe("expired");
    expect(await codeOf(pat.as.query(api.auth.viewer, {}))).toBe("expired");
  });

  test("revoke → the very next call fails with code revoked", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["acme/site=work:read,work:write"]);
    expect(await codeOf(pat.as.mutation(api.items.put, { workspace: "acme/site", name: "x", data: 1 }))).toBe("ok");
    const res = await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    expect(res).toMatchObject({ tokenId: pat.tokenId, changed: true, sessionsEnded: 0 });
    expect(await codeOf(pat.as.mutation(api.items.put, { workspace: "acme/site", name: "x", data: 2 }))).toBe("revoked");
    expect(await codeOf(pat.as.query(api.items.get, { workspace: "acme/site", name: "x" }))).toBe("revoked");
    expect(await codeOf(pat.as.query(api.users.me, {}))).toBe("revoked");
  });

  test("revoking twice succeeds and changes nothing", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    const first = await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    const second = await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    expect(second).toEqual({ tokenId: pat.tokenId, revokedAt: first.revokedAt, changed: false, sessionsEnded: 0 });
  });

  test("revoking a PAT ends its live child agent sessions in the same mutation", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["acme/site=work:read"]);
    const child1 = await agentSessionFor(t, alice.userId, { parentTokenId: pat.tokenId });
    const child2 = await agentSessionFor(t, alice.userId, { parentTokenId: pat.tokenId });
    const other = await agentSessionFor(t, alice.userId);
    const read = (as: typeof child1.as) => as.query(api.items.get, { workspace: "acme/site", name: "notes" });
    expect(await codeOf(read(child1.as))).toBe("ok");
    const res = await alice.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    expect(res.sessionsEnded).toBe(2);
    expect(await codeOf(read(child1.as))).toBe("revoked");
    expect(await codeOf(read(child2.as))).toBe("revoked");
    expect(await codeOf(read(other.as))).toBe("ok");
    const rows = await t.run(async (ctx) => await ctx.db.get("agentSessions", child1.sessionId));
    expect(rows).toMatchObject({ endReason: "parent_revoked" });
  });
});

describe("last use", () => {
  test("recorded by mutations with IP and user agent, at most once a minute; never by queries", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["acme/site=work:read,work:write"]);
    const info = () => alice.as.query(api.auth.getApiToken, { tokenId: pat.tokenId });
    await pat.as.query(api.items.get, { workspace: "acme/site", name: "notes" });
    expect((await info()).lastUsedAt).toBeNull();

    const client = asToken(t, "pat", pat.tokenId).withRequestMetadata({ ip: "203.0.113.7", userAgent: "ci/1.0" });
    await client.mutation(api.items.put, { workspace: "acme/site", name: "n", data: 1 });
    const first = await info();
    expect(first).toMatchObject({ lastUsedAt: Date.now(), lastUsedIp: "203.0.113.7", lastUsedUserAgent: "ci/1.0" });

    vi.setSystemTime(Date.now() + 30_000);
    await client.mutation(api.items.put, { workspace: "acme/site", name: "n", data: 2 });
    expect((await info()).lastUsedAt).toBe(first.lastUsedAt);

    vi.setSystemTime(Date.now() + 31_000);
    await client.mutation(api.items.put, { workspace: "acme/site", name: "n", data: 3 });
    expect((await info()).lastUsedAt).toBe(Date.now());
  });
});

describe("viewer", () => {
  test("says who is calling: person, PAT or agent session", async () => {
    const { t, alice } = await world();
    expect(await alice.as.query(api.auth.viewer, {})).toEqual({ kind: "user", userId: alice.userId });
    const pat = await patFor(t, alice, ["acme=org:read"]);
    expect(await pat.as.query(api.auth.viewer, {})).toEqual({ kind: "pat", userId: alice.userId, tokenId: pat.tokenId });
    const agent = await agentSessionFor(t, alice.userId);
    expect(await agent.as.query(api.auth.viewer, {})).toEqual({
      kind: "agent",
      userId: alice.userId,
      sessionId: agent.sessionId,
      agentId: "agent-1",
    });
    expect(await codeOf(t.query(api.auth.viewer, {}))).toBe("unauthenticated");
  });

  test("a token identity never passes for a sign-in, even with a user-shaped subject", async () => {
    const { t, alice } = await world();
    // A keyhole-issuer identity whose subject looks like "<userId>|<sessionId>".
    const forged = t.withIdentity({ issuer: TEST_ISSUER, subject: `${alice.userId}|${alice.sessionId}` });
    expect(await codeOf(forged.query(api.auth.viewer, {}))).toBe("unauthenticated");
    expect(await codeOf(forged.mutation(api.auth.createApiToken, { name: "x", scopes: [] }))).toBe("unauthenticated");
    // A sign-in-issuer identity with a PAT-shaped subject is no PAT either.
    const pat = await patFor(t, alice, []);
    const odd = t.withIdentity({ issuer: "http://127.0.0.1:3211", subject: `pat:${pat.tokenId}` });
    expect(await codeOf(odd.query(api.auth.viewer, {}))).toBe("unauthenticated");
  });
});
