// The seeds' rules for authorize(), each as a named test, through the public
// functions that rely on it (convex-test).
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { codeOf, messageOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "../tokens/fixtures";

const site = "acme/site";
const read = (as: { query: any }, name = "notes") => as.query(api.items.get, { workspace: site, name });
const write = (as: { mutation: any }, name = "notes", workspace = site) =>
  as.mutation(api.items.put, { workspace, name, data: { at: Date.now() } });

describe("seed rules", () => {
  test("a work:write token owned by a viewer cannot write", async () => {
    const { t, bob } = await world();
    const pat = await patFor(t, bob, ["work:write"]);
    expect(await messageOf(write(pat.as))).toMatch(/role viewer does not grant work:write/);
    expect(await codeOf(write(pat.as))).toBe("forbidden");
  });

  test("an owner's token scoped to work:read cannot write", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["work:read"]);
    expect(await codeOf(read(pat.as))).toBe("ok");
    expect(await messageOf(write(pat.as))).toMatch(/scopes do not grant work:write/);
  });

  test('blank scopes and "*" = the full role', async () => {
    const { t, alice, bob } = await world();
    for (const scopes of [[], ["*"]]) {
      const owner = await patFor(t, alice, scopes);
      expect(await codeOf(read(owner.as))).toBe("ok");
      expect(await codeOf(write(owner.as))).toBe("ok");
      expect(await codeOf(owner.as.mutation(api.workspaces.create, { org: "acme", slug: `w${scopes.length}`, name: "W" }))).toBe("ok");
      expect(await codeOf(owner.as.query(api.orgs.listMembers, { org: "acme" }))).toBe("ok");
      // Full role of a viewer is still a viewer's.
      const viewer = await patFor(t, bob, scopes);
      expect(await codeOf(read(viewer.as))).toBe("ok");
      expect(await codeOf(write(viewer.as))).toBe("forbidden");
      // And never reaches an org the owner is not in.
      expect(await codeOf(owner.as.query(api.items.get, { workspace: "evil/den", name: "loot" }))).toBe("forbidden");
    }
  });

  test("work:write does not grant work:read", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["acme/site=work:write"]);
    expect(await codeOf(write(pat.as))).toBe("ok");
    expect(await messageOf(read(pat.as))).toMatch(/do not grant work:read/);
    expect(await codeOf(pat.as.query(api.items.list, { workspace: site, paginationOpts: { numItems: 10, cursor: null } }))).toBe(
      "forbidden",
    );
  });

  test("the most specific entry wins", async () => {
    const { t, alice } = await world();
    // Global grants read+write; the org entry narrows acme to read; the
    // workspace entry for acme/lab grants write only.
    const pat = await patFor(t, alice, ["work:read,work:write", "acme=work:read", "acme/lab=work:write"]);
    expect(await codeOf(read(pat.as))).toBe("ok"); // acme/site → org entry
    expect(await codeOf(write(pat.as))).toBe("forbidden"); // org entry lacks write, global is not consulted
    expect(await codeOf(write(pat.as, "x", "acme/lab"))).toBe("ok"); // workspace entry
    expect(await codeOf(pat.as.query(api.items.get, { workspace: "acme/lab", name: "x" }))).toBe("forbidden"); // not org's read
    // A less specific entry can't widen a more specific one, in either direction.
    const narrow = await patFor(t, alice, ["acme/site=work:read", "acme=work:read,work:write"]);
    expect(await codeOf(write(narrow.as))).toBe("forbidden");
    expect(await codeOf(write(narrow.as, "y", "acme/lab"))).toBe("ok");
  });

  test("allowedMatches restricts item names and [] denies all", async () => {
    const { t, alice } = await world();
    const signals = await patFor(t, alice, [
      { resource: site, permissions: ["work:read", "work:write"], allowedMatches: ["Signal/*"] },
    ]);
    expect(await codeOf(read(signals.as, "Signal/temp-1"))).toBe("ok");
    expect(await codeOf(write(signals.as, "Signal/temp-3"))).toBe("ok");
    expect(await messageOf(read(signals.as, "notes"))).toMatch(/item "notes"/);
    expect(await codeOf(write(signals.as, "Config/db/url"))).toBe("forbidden");
    expect(await codeOf(read(signals.as, "Signal/a/b"))).toBe("forbidden"); // * stays within a segment
    const deep = await patFor(t, alice, [{ resource: site, permissions: ["work:read"], allowedMatches: ["Config/**"] }]);
    expect(await codeOf(read(deep.as, "Config/db/url"))).toBe("ok");
    const none = await patFor(t, alice, [{ resource: site, permissions: ["work:read", "work:write"], allowedMatches: [] }]);
    for (const name of ["Signal/temp-1", "notes", "Config/db/url"]) {
      expect(await codeOf(read(none.as, name))).toBe("forbidden");
      expect(await codeOf(write(none.as, name))).toBe("forbidden");
    }
    // Listing leaves out what the token may not see.
    const list = async (as: typeof none.as) =>
      (await as.query(api.items.list, { workspace: site, paginationOpts: { numItems: 50, cursor: null } })).page.map((i) => i.name);
    expect(await list(signals.as)).toEqual(["Signal/temp-1", "Signal/temp-2", "Signal/temp-3"]);
    expect(await list(none.as)).toEqual([]);
  });

  test("a PAT cannot create, list or revoke tokens", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    expect(await codeOf(pat.as.mutation(api.auth.createApiToken, { name: "x", scopes: [] }))).toBe("forbidden");
    expect(await codeOf(pat.as.query(api.auth.listApiTokens, {}))).toBe("forbidden");
    expect(await codeOf(pat.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId }))).toBe("forbidden");
    expect(await messageOf(pat.as.query(api.auth.listApiTokens, {}))).toMatch(/PATs cannot create or revoke other PATs/);
  });
});

describe("effective permission = scopes ∩ the owner's current role", () => {
  test("a role change applies to the owner's tokens on the very next request", async () => {
    const { t, alice, carol } = await world();
    const pat = await patFor(t, carol, ["acme/site=work:read,work:write"]);
    expect(await codeOf(write(pat.as))).toBe("ok");
    await alice.as.mutation(api.orgs.setRole, { org: "acme", userId: carol.userId, role: "viewer" });
    expect(await codeOf(write(pat.as))).toBe("forbidden");
    expect(await codeOf(read(pat.as))).toBe("ok");
    await alice.as.mutation(api.orgs.setRole, { org: "acme", userId: carol.userId, role: "member" });
    expect(await codeOf(write(pat.as))).toBe("ok");
  });

  test("removal from an org cuts off the owner's tokens there on the next request", async () => {
    const { t, alice, carol } = await world();
    const pat = await patFor(t, carol, []);
    expect(await codeOf(read(pat.as))).toBe("ok");
    await alice.as.mutation(api.orgs.removeMember, { org: "acme", userId: carol.userId });
    expect(await messageOf(read(pat.as))).toMatch(/^no access to "acme/);
  });

  test("default deny: no entry for the target means no access", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["acme/lab=work:read"]);
    expect(await codeOf(read(pat.as))).toBe("forbidden");
    expect(await codeOf(pat.as.query(api.orgs.listMembers, { org: "acme" }))).toBe("forbidden");
    expect(await codeOf(pat.as.query(api.audit.list, { paginationOpts: { numItems: 5, cursor: null } }))).toBe("forbidden");
  });

  test("an agent session minted from a PAT needs both its own scopes and the parent's", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, ["acme/site=work:read"]);
    const child = await agentSessionFor(t, alice.userId, { parentTokenId: pat.tokenId, scopes: [] });
    expect(await codeOf(read(child.as))).toBe("ok");
    expect(await codeOf(write(child.as))).toBe("forbidden"); // parent lacks work:write
    const narrower = await agentSessionFor(t, alice.userId, {
      parentTokenId: pat.tokenId,
      scopes: [{ resource: "acme/lab", permissions: ["work:read"] }],
    });
    expect(await codeOf(read(narrower.as))).toBe("forbidden"); // own scopes lack acme/site
  });

  test("missing orgs and workspaces read like forbidden ones (names don't leak)", async () => {
    const { t, alice } = await world();
    const pat = await patFor(t, alice, []);
    const nope = await messageOf(pat.as.query(api.items.get, { workspace: "nope/site", name: "x" }));
    const theirs = await messageOf(pat.as.query(api.items.get, { workspace: "evil/den", name: "x" }));
    expect(await codeOf(pat.as.query(api.items.get, { workspace: "nope/site", name: "x" }))).toBe("forbidden");
    expect(nope).toMatch(/no access/);
    expect(theirs).toMatch(/no access|not a member/);
  });
});
