// Org token policy, attacker first: a change applies at once to existing
// tokens (the next call fails, naming the policy), people are not bound by
// it, only owners and admins (signed in) set it, and creation warns.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { codeOf, errorOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "../tokens/fixtures";

afterEach(() => {
  vi.useRealTimers();
});

const read = { workspace: "acme/site", name: "notes" };
const DAY = 86400;

describe("a policy change applies at once to existing tokens", () => {
  test("maxLifetimeDays: a 30-day token stops in an org that caps tokens at 7 days, with a message naming the policy", async () => {
    const w = await world();
    const month = await patFor(w.t, w.carol, ["acme=work:read"], { expiresIn: 30 * DAY });
    const week = await patFor(w.t, w.carol, ["acme=work:read"], { expiresIn: 7 * DAY });
    expect(await codeOf(month.as.query(api.items.get, read))).toBe("ok");
    await w.dave.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 7 } });
    const err = await errorOf(month.as.query(api.items.get, read));
    expect(err.code).toBe("forbidden");
    expect(err.message).toMatch(/token policy of "acme".*maxLifetimeDays is 7.*30 days/);
    expect(await codeOf(month.as.mutation(api.items.put, { ...read, data: 1 }))).toBe("forbidden");
    expect(await codeOf(week.as.query(api.items.get, read))).toBe("ok");
    // the person is not bound by token policy
    expect(await codeOf(w.carol.as.query(api.items.get, read))).toBe("ok");
    // lifting the cap restores the token on its next call
    await w.dave.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: null } });
    expect(await codeOf(month.as.query(api.items.get, read))).toBe("ok");
  });

  test("the org's listing hides the org from a refused token; other orgs are unaffected", async () => {
    const w = await world();
    await w.carol.as.mutation(api.orgs.create, { slug: "beta", name: "Beta" });
    const month = await patFor(w.t, w.carol, [], { expiresIn: 30 * DAY });
    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 7 } });
    expect((await month.as.query(api.orgs.listMine, {})).map((o: { slug: string }) => o.slug)).toEqual(["beta"]);
    expect(await codeOf(month.as.query(api.workspaces.list, { org: "beta" }))).toBe("ok");
  });

  test("an agent session minted from a refused PAT is refused too", async () => {
    const w = await world();
    const month = await patFor(w.t, w.carol, ["acme=work:read"], { expiresIn: 30 * DAY });
    const child = await agentSessionFor(w.t, w.carol.userId, { parentTokenId: month.tokenId, scopes: [] });
    const own = await agentSessionFor(w.t, w.carol.userId, { scopes: [{ resource: "acme", permissions: ["work:read"] }] });
    expect(await codeOf(child.as.query(api.items.get, read))).toBe("ok");
    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 7 } });
    expect((await errorOf(child.as.query(api.items.get, read))).message).toMatch(/maxLifetimeDays/);
    expect(await codeOf(own.as.query(api.items.get, read))).toBe("ok"); // a 1-hour session of a person
  });

  test("requireExplicitScopes refuses blank-scoped (full-role) tokens and sessions", async () => {
    const w = await world();
    const blank = await patFor(w.t, w.carol, []);
    const scoped = await patFor(w.t, w.carol, ["acme=work:read"]);
    const blankSession = await agentSessionFor(w.t, w.carol.userId, { scopes: [] });
    const childOfScoped = await agentSessionFor(w.t, w.carol.userId, { parentTokenId: scoped.tokenId, scopes: [] });
    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { requireExplicitScopes: true } });
    expect((await errorOf(blank.as.query(api.items.get, read))).message).toMatch(/requireExplicitScopes/);
    expect((await errorOf(blankSession.as.query(api.items.get, read))).message).toMatch(/requireExplicitScopes/);
    expect(await codeOf(scoped.as.query(api.items.get, read))).toBe("ok");
    expect(await codeOf(childOfScoped.as.query(api.items.get, read))).toBe("ok");
  });

  test("allowMcpClients=false refuses MCP tokens, their sessions and OAuth-server MCP clients, not PATs", async () => {
    const w = await world();
    const mcp = await w.carol.as.mutation(api.auth.createApiToken, { name: "mcp", scopes: ["acme=work:read"], type: "MCP" });
    const pat = await patFor(w.t, w.carol, ["acme=work:read"]);
    const { asToken } = await import("../helpers/convex");
    const mcpAs = asToken(w.t, "pat", mcp.tokenId);
    const child = await agentSessionFor(w.t, w.carol.userId, { parentTokenId: mcp.tokenId, scopes: [] });
    // an MCP client signed in through keyhole's OAuth server: its session is an OAuth grant
    const viaOAuth = await agentSessionFor(w.t, w.carol.userId, { scopes: [{ resource: "acme", permissions: ["work:read"] }] });
    const plain = await agentSessionFor(w.t, w.carol.userId, { scopes: [{ resource: "acme", permissions: ["work:read"] }] });
    await w.t.run(async (ctx) => {
      const s = (await ctx.db.get("agentSessions", viaOAuth.sessionId))!;
      await ctx.db.insert("oauthGrants", {
        userId: s.userId, clientId: "khc_test", clientName: "Claude", clientKind: "dcr", familyId: s.familyId,
        resource: "http://127.0.0.1:3211/mcp", permissions: ["work:read"], scopes: s.scopes, createdAt: s.createdAt,
        familyExpiresAt: s.familyExpiresAt,
      });
      await ctx.db.patch("agentSessions", s._id, { audience: "http://127.0.0.1:3211/mcp" });
    });
    expect(await codeOf(viaOAuth.as.query(api.items.get, read))).toBe("ok");
    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { allowMcpClients: false } });
    expect((await errorOf(mcpAs.query(api.items.get, read))).message).toMatch(/allowMcpClients/);
    expect((await errorOf(child.as.query(api.items.get, read))).message).toMatch(/allowMcpClients/);
    expect((await errorOf(viaOAuth.as.query(api.items.get, read))).message).toMatch(/allowMcpClients/);
    expect(await codeOf(plain.as.query(api.items.get, read))).toBe("ok");
    expect(await codeOf(pat.as.query(api.items.get, read))).toBe("ok");
  });
});

describe("who may set it", () => {
  test("members and viewers get forbidden; so does an owner's full-role PAT; owners and admins may", async () => {
    const w = await world();
    const policy = { maxLifetimeDays: 1 };
    expect(await codeOf(w.carol.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy }))).toBe("forbidden");
    expect(await codeOf(w.bob.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy }))).toBe("forbidden");
    const ownerPat = await patFor(w.t, w.alice, []);
    expect(await codeOf(ownerPat.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy }))).toBe("forbidden");
    expect(await codeOf(w.mallory.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy }))).toBe("forbidden");
    expect((await w.alice.as.query(api.orgs.getTokenPolicy, { org: "acme" })).maxLifetimeDays).toBeNull();
    expect(await codeOf(w.dave.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy }))).toBe("ok");
    // every member may read the policy their tokens live under
    expect(await w.bob.as.query(api.orgs.getTokenPolicy, { org: "acme" })).toMatchObject({
      maxLifetimeDays: 1,
      requireExplicitScopes: false,
      revokeUnusedAfterDays: null,
      allowMcpClients: true,
      updatedBy: w.dave.userId,
    });
  });

  test("fields left out stay; bad values are invalid_argument", async () => {
    const w = await world();
    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 30, requireExplicitScopes: true } });
    const after = await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { allowMcpClients: false } });
    expect(after).toMatchObject({ maxLifetimeDays: 30, requireExplicitScopes: true, allowMcpClients: false });
    for (const bad of [0, 366, 1.5, -1]) {
      for (const field of ["maxLifetimeDays", "revokeUnusedAfterDays"]) {
        expect(await codeOf(w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { [field]: bad } }))).toBe(
          "invalid_argument",
        );
      }
    }
  });
});

describe("creating a token that a policy would block warns at once", () => {
  test("warnings name the org and the rule; tokens that don't reach the org get none", async () => {
    const w = await world();
    await w.carol.as.mutation(api.orgs.create, { slug: "beta", name: "Beta" });
    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 7, requireExplicitScopes: true } });
    const blocked = await w.carol.as.mutation(api.auth.createApiToken, { name: "long", scopes: [], expiresIn: 30 * DAY });
    expect(blocked.warnings?.join(" ")).toMatch(/token policy of "acme".*maxLifetimeDays is 7.*requireExplicitScopes/);
    const elsewhere = await w.carol.as.mutation(api.auth.createApiToken, {
      name: "beta-only",
      scopes: ["beta=work:read"],
      expiresIn: 30 * DAY,
    });
    expect(elsewhere.warnings).toBeUndefined();
    const fine = await w.carol.as.mutation(api.auth.createApiToken, { name: "ok", scopes: ["acme=work:read"], expiresIn: 7 * DAY });
    expect(fine.warnings).toBeUndefined();
  });
});
