// Scope-algebra rules (shared/scopes.ts) that mutation testing (issue 19)
// showed no fast test pinned.
import { expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { formatScopes, normalizeScopes, scopesAllow } from "../../shared/scopes";
import { codeOf, errorOf } from "../helpers/errors";
import { patFor, world } from "../tokens/fixtures";

test('an org-level target is matched by org entries only: a workspace literally named "undefined" grants nothing org-wide', async () => {
  const { t, alice } = await world();
  await alice.as.mutation(api.workspaces.create, { org: "acme", slug: "undefined", name: "U" });
  const pat = await patFor(t, alice, ["acme/undefined=members:read,work:read"]);
  expect(await codeOf(pat.as.query(api.orgs.listMembers, { org: "acme" }))).toBe("forbidden");
  expect(await codeOf(pat.as.query(api.items.get, { workspace: "acme/undefined", name: "x" }))).toBe("ok");
  expect(scopesAllow([{ resource: "acme/undefined", permissions: ["members:read"] }], "members:read", { org: "acme" })).toBe(false);
});

test("a global entry applies when no org or workspace entry names the target; a more specific tier replaces it", () => {
  const entries = [
    { permissions: ["work:read"] },
    { resource: "acme", permissions: ["work:write"] },
  ];
  expect(scopesAllow(entries, "work:read", { org: "evil", workspace: "den" })).toBe(true);
  expect(scopesAllow(entries, "work:read", { org: "acme", workspace: "site" })).toBe(false); // the acme tier wins
  expect(scopesAllow(entries, "work:write", { org: "acme", workspace: "site" })).toBe(true);
  expect(scopesAllow(entries, "work:write", {})).toBe(false);
});

test("a pattern past the caps is quoted in the error by its first 40 characters only", async () => {
  const { alice } = await world();
  const long = "Signal/" + "a".repeat(200);
  const e = await errorOf(
    alice.as.mutation(api.auth.createApiToken, { name: "long", scopes: [{ resource: "acme/site", permissions: ["work:read"], allowedMatches: [long] }] }),
  );
  expect(e.code).toBe("invalid_argument");
  expect(e.message).toContain(`allowedMatches pattern ${JSON.stringify(long.slice(0, 40))}… is invalid`);
  expect(e.message).not.toContain(long.slice(0, 41));
});

test("plain scopes create a token with no warnings; normalizing warns about nothing", async () => {
  const { alice } = await world();
  const created = await alice.as.mutation(api.auth.createApiToken, { name: "plain", scopes: ["acme/site=work:read"] });
  expect(created.warnings).toBeUndefined();
  expect(normalizeScopes(["acme=work:read"]).warnings).toEqual([]);
  expect(normalizeScopes([]).warnings).toEqual([]);
});

test("scopes render back to the shorthand people type (CLI and dashboard)", () => {
  expect(formatScopes([])).toEqual(["*"]);
  expect(formatScopes(undefined)).toEqual(["*"]);
  expect(
    formatScopes([
      { resource: "acme/site", permissions: ["work:read", "work:write"], allowedMatches: ["Signal/*", "Config/**"] },
      { permissions: ["tokens:read", "connections:read"] },
      "acme=org:read",
    ]),
  ).toEqual(["acme/site=work:read,work:write [Signal/* Config/**]", "tokens:read,connections:read", "acme=org:read"]);
});

test("no scopes (undefined or []) is the full role; errors about a global entry say “all resources”", () => {
  expect(normalizeScopes(undefined)).toEqual({ entries: [], warnings: [] });
  expect(normalizeScopes([])).toEqual({ entries: [], warnings: [] });
  expect(() => normalizeScopes([{ permissions: [] }])).toThrow("scope for all resources names no permissions");
  expect(() => normalizeScopes(["work:read,work:read"])).toThrow('permission "work:read" is listed twice for all resources');
  expect(() => normalizeScopes([{ resource: "acme", permissions: ["a:b"] }])).toThrow('unknown permission "a:b"');
});

test("a short invalid pattern is quoted whole, without an ellipsis", () => {
  expect(() => normalizeScopes([{ resource: "acme/site", permissions: ["work:read"], allowedMatches: ["a b"] }])).toThrow(
    'allowedMatches pattern "a b" is invalid',
  );
});
