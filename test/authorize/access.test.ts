// Every public function of this area refuses unauthenticated callers, and
// callers from another org (as a person and through a full-role PAT) can
// neither read nor change anything in it. The table is checked against the
// modules' exports, so a new public function without a row fails this file.
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import * as auditModule from "../../convex/audit";
import * as authModule from "../../convex/auth";
import * as itemsModule from "../../convex/items";
import * as orgsModule from "../../convex/orgs";
import * as usersModule from "../../convex/users";
import * as workspacesModule from "../../convex/workspaces";
import { codeOf } from "../helpers/errors";
import { patFor, world } from "../tokens/fixtures";

type W = Awaited<ReturnType<typeof world>>;
type Caller = { query: any; mutation: any };
type Row = {
  kind: "query" | "mutation";
  ref: any;
  /** Arguments aimed at acme (alice's org) and at alice's things. */
  args: (w: W, tokenId: string) => Record<string, unknown>;
  /** Org-scoped: a stranger gets `forbidden`. Personal: checked separately below. */
  orgScoped: boolean;
};

const page = { numItems: 10, cursor: null };

const ROWS: Record<string, Row> = {
  "users:me": { kind: "query", ref: api.users.me, args: () => ({}), orgScoped: false },
  "orgs:create": { kind: "mutation", ref: api.orgs.create, args: () => ({ slug: "newco", name: "New" }), orgScoped: false },
  "orgs:listMine": { kind: "query", ref: api.orgs.listMine, args: () => ({}), orgScoped: false },
  "orgs:listMembers": { kind: "query", ref: api.orgs.listMembers, args: () => ({ org: "acme" }), orgScoped: true },
  "orgs:invite": { kind: "mutation", ref: api.orgs.invite, args: () => ({ org: "acme", role: "owner" }), orgScoped: true },
  "orgs:acceptInvite": { kind: "mutation", ref: api.orgs.acceptInvite, args: () => ({ code: "khi_x" }), orgScoped: false },
  "orgs:listInvites": { kind: "query", ref: api.orgs.listInvites, args: () => ({ org: "acme" }), orgScoped: true },
  "orgs:revokeInvite": {
    kind: "mutation",
    ref: api.orgs.revokeInvite,
    args: () => ({ org: "acme", inviteId: "x" }),
    orgScoped: true,
  },
  "orgs:listOrgTokens": { kind: "query", ref: api.orgs.listOrgTokens, args: () => ({ org: "acme" }), orgScoped: true },
  "orgs:revokeOrgToken": {
    kind: "mutation",
    ref: api.orgs.revokeOrgToken,
    args: (_w, id) => ({ org: "acme", tokenId: id }),
    orgScoped: true,
  },
  "orgs:getTokenPolicy": { kind: "query", ref: api.orgs.getTokenPolicy, args: () => ({ org: "acme" }), orgScoped: true },
  "orgs:setTokenPolicy": {
    kind: "mutation",
    ref: api.orgs.setTokenPolicy,
    args: () => ({ org: "acme", policy: { maxLifetimeDays: 1 } }),
    orgScoped: true,
  },
  "orgs:setRole": {
    kind: "mutation",
    ref: api.orgs.setRole,
    args: (w) => ({ org: "acme", userId: w.bob.userId, role: "admin" }),
    orgScoped: true,
  },
  "orgs:removeMember": {
    kind: "mutation",
    ref: api.orgs.removeMember,
    args: (w) => ({ org: "acme", userId: w.bob.userId }),
    orgScoped: true,
  },
  "workspaces:create": {
    kind: "mutation",
    ref: api.workspaces.create,
    args: () => ({ org: "acme", slug: "pwned", name: "P" }),
    orgScoped: true,
  },
  "workspaces:list": { kind: "query", ref: api.workspaces.list, args: () => ({ org: "acme" }), orgScoped: true },
  "items:put": {
    kind: "mutation",
    ref: api.items.put,
    args: () => ({ workspace: "acme/site", name: "notes", data: "pwned" }),
    orgScoped: true,
  },
  "items:get": { kind: "query", ref: api.items.get, args: () => ({ workspace: "acme/site", name: "notes" }), orgScoped: true },
  "items:list": {
    kind: "query",
    ref: api.items.list,
    args: () => ({ workspace: "acme/site", paginationOpts: page }),
    orgScoped: true,
  },
  "items:remove": {
    kind: "mutation",
    ref: api.items.remove,
    args: () => ({ workspace: "acme/site", name: "notes" }),
    orgScoped: true,
  },
  "audit:list": { kind: "query", ref: api.audit.list, args: () => ({ paginationOpts: page }), orgScoped: false },
  "auth:createApiToken": {
    kind: "mutation",
    ref: api.auth.createApiToken,
    args: () => ({ name: "x", scopes: ["acme=work:read"] }),
    orgScoped: false,
  },
  "auth:listApiTokens": { kind: "query", ref: api.auth.listApiTokens, args: () => ({}), orgScoped: false },
  "auth:getApiToken": { kind: "query", ref: api.auth.getApiToken, args: (_w, id) => ({ tokenId: id }), orgScoped: false },
  "auth:revokeApiToken": {
    kind: "mutation",
    ref: api.auth.revokeApiToken,
    args: (_w, id) => ({ tokenId: id }),
    orgScoped: false,
  },
  "auth:viewer": { kind: "query", ref: api.auth.viewer, args: () => ({}), orgScoped: false },
  "auth:regenerateApiToken": {
    kind: "mutation",
    ref: api.auth.regenerateApiToken,
    args: (_w, id) => ({ tokenId: id }),
    orgScoped: false,
  },
  "auth:updateApiToken": {
    kind: "mutation",
    ref: api.auth.updateApiToken,
    args: (_w, id) => ({ tokenId: id, name: "renamed" }),
    orgScoped: false,
  },
};

/** The tokens section of convex/auth.ts (the rest of that file belongs to other areas). */
const AUTH_TOKEN_FUNCTIONS = [
  "createApiToken",
  "listApiTokens",
  "getApiToken",
  "revokeApiToken",
  "viewer",
  "regenerateApiToken",
  "updateApiToken",
];

function publicFunctions(prefix: string, mod: Record<string, unknown>): string[] {
  return Object.entries(mod)
    .filter(([, f]) => typeof f === "function" && (f as { isPublic?: boolean }).isPublic === true)
    .map(([name]) => `${prefix}:${name}`);
}

const call = (who: Caller, row: Row, args: Record<string, unknown>) =>
  row.kind === "query" ? who.query(row.ref, args) : who.mutation(row.ref, args);

test("the table covers every public function of users, orgs, workspaces, items, audit and the auth tokens section", () => {
  const expected = [
    ...publicFunctions("users", usersModule),
    ...publicFunctions("orgs", orgsModule),
    ...publicFunctions("workspaces", workspacesModule),
    ...publicFunctions("items", itemsModule),
    ...publicFunctions("audit", auditModule),
    ...AUTH_TOKEN_FUNCTIONS.map((n) => `auth:${n}`),
  ].sort();
  for (const n of AUTH_TOKEN_FUNCTIONS) expect((authModule as any)[n].isPublic).toBe(true);
  expect(Object.keys(ROWS).sort()).toEqual(expected);
});

describe("unauthenticated callers are refused by every function", () => {
  test.each(Object.keys(ROWS))("%s", async (name) => {
    const w = await world();
    const tokenId = (await patFor(w.t, w.alice, [])).tokenId;
    const row = ROWS[name];
    expect(await codeOf(call(w.t, row, row.args(w, tokenId)))).toBe("unauthenticated");
  });

  test("an anonymous caller can't tell existing orgs and workspaces from missing ones", async () => {
    const w = await world();
    for (const workspace of ["acme/site", "nope/site", "acme/nope"]) {
      expect(await codeOf(w.t.query(api.items.get, { workspace, name: "x" }))).toBe("unauthenticated");
    }
    for (const org of ["acme", "nope"]) {
      expect(await codeOf(w.t.query(api.workspaces.list, { org }))).toBe("unauthenticated");
      expect(await codeOf(w.t.mutation(api.orgs.removeMember, { org, userId: w.bob.userId }))).toBe("unauthenticated");
    }
  });
});

describe("callers from another org are refused by every org-scoped function", () => {
  const orgScoped = Object.keys(ROWS).filter((n) => ROWS[n].orgScoped);
  test.each(orgScoped)("%s (as a person and through a full-role PAT)", async (name) => {
    const w = await world();
    const tokenId = (await patFor(w.t, w.alice, [])).tokenId;
    const malloryPat = await patFor(w.t, w.mallory, []);
    const row = ROWS[name];
    const before = await snapshot(w);
    expect(await codeOf(call(w.mallory.as, row, row.args(w, tokenId)))).toBe("forbidden");
    expect(await codeOf(call(malloryPat.as, row, row.args(w, tokenId)))).toBe("forbidden");
    expect(await snapshot(w)).toEqual(before);
  });
});

describe("personal functions only ever reach the caller's own things", () => {
  test("tokens: another person's token is not found; scopes can't name an org one is not in", async () => {
    const w = await world();
    const alicePat = await patFor(w.t, w.alice, []);
    expect(await codeOf(w.mallory.as.query(api.auth.getApiToken, { tokenId: alicePat.tokenId }))).toBe("not_found");
    expect(await codeOf(w.mallory.as.mutation(api.auth.revokeApiToken, { tokenId: alicePat.tokenId }))).toBe("not_found");
    expect(await codeOf(w.mallory.as.mutation(api.auth.createApiToken, { name: "x", scopes: ["acme=work:read"] }))).toBe(
      "invalid_argument",
    );
    const listed = await w.mallory.as.query(api.auth.listApiTokens, {});
    expect(listed.tokens.map((t) => t._id)).not.toContain(alicePat.tokenId);
  });

  test("identity, orgs and audit log are the caller's own", async () => {
    const w = await world();
    const malloryPat = await patFor(w.t, w.mallory, []);
    for (const who of [w.mallory.as, malloryPat.as]) {
      expect((await who.query(api.users.me, {})).email).toBe("mallory@example.com");
      expect((await who.query(api.auth.viewer, {})).userId).toBe(w.mallory.userId);
      expect((await who.query(api.orgs.listMine, {})).map((o: { slug: string }) => o.slug)).toEqual(["evil"]);
      const events = (await who.query(api.audit.list, { paginationOpts: { numItems: 100, cursor: null } })).page;
      expect(events.length).toBeGreaterThan(0);
      const own = await w.t.run(async (ctx) =>
        (await ctx.db.query("auditEvents").collect()).filter((e) => e.userId === w.mallory.userId).map((e) => e._id),
      );
      for (const e of events) expect(own).toContain(e._id);
    }
  });

  test("tokens cannot create organizations (an account-level act)", async () => {
    const w = await world();
    const pat = await patFor(w.t, w.alice, []);
    expect(await codeOf(pat.as.mutation(api.orgs.create, { slug: "newco", name: "New" }))).toBe("forbidden");
  });
});

/** Everything in acme that a refused call must leave untouched. */
async function snapshot(w: W) {
  return await w.t.run(async (ctx) => {
    const acme = await ctx.db
      .query("orgs")
      .withIndex("by_slug", (q) => q.eq("slug", "acme"))
      .unique();
    const members = await ctx.db
      .query("memberships")
      .withIndex("by_org", (q) => q.eq("orgId", acme!._id))
      .collect();
    const workspaces = await ctx.db
      .query("workspaces")
      .withIndex("by_org_slug", (q) => q.eq("orgId", acme!._id))
      .collect();
    const items = [];
    for (const ws of workspaces) {
      items.push(
        ...(await ctx.db
          .query("items")
          .withIndex("by_workspace_name", (q) => q.eq("workspaceId", ws._id))
          .collect()),
      );
    }
    return { members, workspaces, items };
  });
}
