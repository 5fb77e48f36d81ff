// Security rules that mutation testing (npm run test:mutation, issue 19) found
// no fast test pinned. Each test names the rule it pins and plays the attacker:
// it fails when that rule is removed or loosened.
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { normalizeScopes, parseResource, parseScopeString, ScopeError, scopesAllow } from "../../convex/model/scopes";
import { isValidGlob, MAX_GLOB_LENGTH } from "../../shared/glob";
import { PERMISSIONS, roleGrants, ROLES, type Permission, type Role } from "../../shared/permissions";
import { TEST_SITE_URL } from "../helpers/env";
import { codeOf, errorOf, messageOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "../tokens/fixtures";

const read = (as: Awaited<ReturnType<typeof patFor>>["as"], workspace = "acme/site") =>
  as.query(api.items.get, { workspace, name: "notes" });

describe("principal: whose scopes bind a credential", () => {
  test("an agent session a signed-in person minted (no parent PAT) is bound by its own scopes, not the owner's full role", async () => {
    const { t, alice } = await world();
    const narrow = await agentSessionFor(t, alice.userId, { scopes: [{ resource: "acme/lab", permissions: ["work:read"] }] });
    expect(await codeOf(read(narrow.as, "acme/lab"))).toBe("ok");
    expect(await codeOf(read(narrow.as))).toBe("forbidden"); // alice (owner) could; the session may not
    expect(await codeOf(narrow.as.mutation(api.items.put, { workspace: "acme/lab", name: "x", data: 1 }))).toBe("forbidden");
    // An unscoped session of the same person has the full role: the refusal above is the scopes'.
    const full = await agentSessionFor(t, alice.userId, { scopes: [] });
    expect(await codeOf(read(full.as))).toBe("ok");
  });

  test("a sign-in whose session row belongs to another user is refused (subject user|session must agree)", async () => {
    const { t, alice, mallory } = await world();
    const spliced = t.withIdentity({ issuer: TEST_SITE_URL, subject: `${mallory.userId}|${alice.sessionId}` });
    expect(await errorOf(spliced.query(api.users.me, {}))).toMatchObject({
      code: "unauthenticated",
      message: "this sign-in has ended: sign in again",
    });
    // The same subject shape with a matching pair is accepted.
    expect(await codeOf(mallory.as.query(api.users.me, {}))).toBe("ok");
  });

  test("an identity from an issuer that is neither the site nor keyhole is refused", async () => {
    const { t, alice } = await world();
    const stranger = t.withIdentity({ issuer: "https://evil.example", subject: `${alice.userId}|${alice.sessionId}` });
    expect(await codeOf(stranger.query(api.users.me, {}))).toBe("unauthenticated");
    expect(await messageOf(stranger.query(api.users.me, {}))).toMatch(/credential not recognized/);
  });
});

describe("authorize: missing names read like someone else's", () => {
  test("a missing workspace in the caller's own org answers forbidden, exactly like one in an org it is not in", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    const missing = read(pat.as, "acme/nope");
    expect(await codeOf(missing)).toBe("forbidden");
    expect(await messageOf(read(pat.as, "acme/nope"))).toBe('no access to "acme/nope"');
    expect(await messageOf(read(pat.as, "evil/den"))).toBe('no access to "evil/den"');
    // And as a signed-in person, through the same path.
    expect(await messageOf(alice.as.query(api.items.get, { workspace: "acme/nope", name: "x" }))).toBe('no access to "acme/nope"');
  });
});

describe("roles", () => {
  test("the viewer role reads (org, members, workspaces, items) and changes nothing", async () => {
    const { bob } = await world();
    expect(await codeOf(bob.as.query(api.orgs.listMembers, { org: "acme" }))).toBe("ok");
    expect(await codeOf(bob.as.query(api.items.get, { workspace: "acme/site", name: "notes" }))).toBe("ok");
    expect(await codeOf(bob.as.mutation(api.items.put, { workspace: "acme/site", name: "x", data: 1 }))).toBe("forbidden");
    const viewer = PERMISSIONS.filter((p) => roleGrants("viewer", p));
    expect(viewer).toEqual(["org:read", "members:read", "workspace:read", "work:read"]);
  });

  test("each role grants a subset of the next higher role, and no role grants a personal permission", () => {
    const personal: Permission[] = ["connections:read", "connections:use", "tokens:read"];
    for (let i = 1; i < ROLES.length; i++) {
      const lower: Role = ROLES[i];
      const higher: Role = ROLES[i - 1];
      for (const p of PERMISSIONS) if (roleGrants(lower, p)) expect(roleGrants(higher, p), `${higher} ⊇ ${lower} for ${p}`).toBe(true);
    }
    for (const r of ROLES) for (const p of personal) expect(roleGrants(r, p)).toBe(false);
    expect(roleGrants("admin", "org:admin")).toBe(false); // only owners administer the org
    expect(roleGrants("owner", "org:admin")).toBe(true);
    expect(roleGrants("member", "members:write")).toBe(false);
  });
});

describe("scope syntax: what a token may name", () => {
  test('a scope resource is "org" or "org/workspace" of lowercase slugs; anything else is refused', () => {
    for (const bad of ["acme/site/x", "Acme", "acme/", "/site", "-acme", "acme/Site", "a".repeat(64), "acme site", ""]) {
      expect(parseResource(bad), bad).toBeNull();
      if (bad !== "") expect(() => normalizeScopes([{ resource: bad, permissions: ["work:read"] }]), bad).toThrow(ScopeError);
    }
    expect(parseResource("acme")).toEqual({ org: "acme" });
    expect(parseResource("acme/site")).toEqual({ org: "acme", workspace: "site" });
    expect(parseResource("a".repeat(63))).toEqual({ org: "a".repeat(63) });
    expect(() => normalizeScopes(["=work:read"])).toThrow(/resource before "=" is empty/);
  });

  test("a glob is 1 to 128 characters of letters, digits, _ . - / and the wildcards", () => {
    for (const good of ["a", "Signal/*", "Config/**", "a?b", "x_y.z-1", "a".repeat(MAX_GLOB_LENGTH)]) expect(isValidGlob(good), good).toBe(true);
    for (const bad of ["", "a b", "a[b]", "a\\*", "{a,b}", "ä", "a".repeat(MAX_GLOB_LENGTH + 1), "a\nb"]) {
      expect(isValidGlob(bad), JSON.stringify(bad)).toBe(false);
      expect(() => normalizeScopes([{ resource: "acme/site", permissions: ["work:read"], allowedMatches: [bad] }])).toThrow(ScopeError);
    }
  });

  test("at most 50 scope entries; an entry names at least one known permission, once", () => {
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ resource: `acme/w${i}`, permissions: ["work:read"] }));
    expect(normalizeScopes(entries(50)).entries).toHaveLength(50);
    expect(() => normalizeScopes(entries(51))).toThrow(/at most 50 scope entries/);
    expect(() => normalizeScopes([{ resource: "acme", permissions: [] }])).toThrow(/names no permissions/);
    expect(() => normalizeScopes(["acme="])).toThrow(/names no permissions/);
    expect(() => normalizeScopes(["acme=work:read,work:root"])).toThrow(/unknown permission "work:root"/);
    expect(() => normalizeScopes(["acme=work:read,work:read"])).toThrow(/listed twice/);
    // The same permission for two different resources is fine.
    expect(normalizeScopes(["acme=work:read", "acme/site=work:read"]).entries).toHaveLength(2);
  });

  test('"*" is the full role alone; combined with anything it is refused', () => {
    expect(normalizeScopes(["*"]).entries).toEqual([]);
    expect(normalizeScopes([" * "]).entries).toEqual([]);
    expect(() => normalizeScopes(["*", "acme=work:read"])).toThrow(/cannot be combined/);
    expect(parseScopeString(" acme / site = work:read , work:write ")).toEqual({ resource: "acme / site", permissions: ["work:read", "work:write"] });
  });

  test("normalizing keeps allowedMatches on org and global entries (dropping them would widen the token)", () => {
    const { entries } = normalizeScopes([{ resource: "acme", permissions: ["work:read"], allowedMatches: ["Signal/*"] }]);
    expect(entries).toEqual([{ resource: "acme", permissions: ["work:read"], allowedMatches: ["Signal/*"] }]);
    expect(scopesAllow(entries, "work:read", { org: "acme", workspace: "site" }, "Config/db/url")).toBe(false);
    expect(scopesAllow(entries, "work:read", { org: "acme", workspace: "site" }, "Signal/x")).toBe(true);
  });
});
