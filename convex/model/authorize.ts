/**
 * authorize(): the one decision for every caller (person, PAT, agent session)
 * and every surface (Convex functions, HTTP API, MCP).
 *
 *   identity → principal → record checks (exists, not revoked, not expired)
 *   → the owner's current role in the org → every scope set of the credential
 *   → allow, or `forbidden`. Default deny.
 *
 * Effective permission = token scopes ∩ the owner's current role. Reads: the
 * credential record and one membership row; in a mutation it also records the
 * token's last use (at most one write a minute).
 */
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { keyholeError } from "./errors";
import { enforceTokenPolicy } from "./governance/policy";
import { PERSONAL_PERMISSIONS, roleGrants, type Permission } from "./permissions";
import { recordUse, requirePrincipal, scopeSets, type Principal } from "./principal";
import { parseResource, scopesAllow, type Target } from "./scopes";

/** An org, and optionally one of its workspaces, already looked up. */
export type Resource = { org: Doc<"orgs">; workspace?: Doc<"workspaces"> | null };

export type Authorized = Principal & { role?: Doc<"memberships">["role"] };

type Ctx = QueryCtx | MutationCtx;

function isMutationCtx(ctx: Ctx): ctx is MutationCtx {
  return "insert" in ctx.db;
}

export async function authorize(
  ctx: Ctx,
  permission: Permission,
  resource?: Resource | null,
  itemName?: string,
): Promise<Authorized> {
  const principal = await requirePrincipal(ctx);
  if (isMutationCtx(ctx)) await recordUse(ctx, principal);

  const target: Target = resource
    ? { org: resource.org.slug, workspace: resource.workspace?.slug }
    : {};
  const where = describe(target, itemName);

  if (PERSONAL_PERMISSIONS.has(permission)) {
    if (!scopeSets(principal).every((s) => scopesAllow(s, permission, target, itemName))) {
      throw keyholeError("forbidden", `this token lacks ${permission}${where}`);
    }
    return principal;
  }

  if (!resource) throw keyholeError("forbidden", `${permission} needs an organization or workspace`);
  const membership = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", principal.userId).eq("orgId", resource.org._id))
    .unique();
  if (membership === null) throw noAccess(target.workspace ? `${target.org}/${target.workspace}` : resource.org.slug);
  if (!roleGrants(membership.role, permission)) {
    throw keyholeError("forbidden", `role ${membership.role} does not grant ${permission}${where}`);
  }
  if (!scopeSets(principal).every((s) => scopesAllow(s, permission, target, itemName))) {
    throw keyholeError("forbidden", `this token's scopes do not grant ${permission}${where}`);
  }
  // governance: the org's token policy applies to every token on every request
  await enforceTokenPolicy(ctx, principal, resource.org);
  return { ...principal, role: membership.role };
}

function describe(target: Target, itemName?: string): string {
  if (target.org === undefined) return "";
  const res = target.workspace ? `${target.org}/${target.workspace}` : target.org;
  return itemName === undefined ? ` on ${res}` : ` on ${res} item "${itemName}"`;
}

/**
 * The one answer for an org or workspace the caller cannot reach: missing,
 * or someone else's (not a member). Same code and message for both, on every
 * surface, so names don't leak.
 */
function noAccess(path: string) {
  return keyholeError("forbidden", `no access to "${path}"`);
}

/**
 * Looks up "org" or "org/workspace". A missing org or workspace is reported
 * exactly like one the caller is not a member of (noAccess).
 */
export async function resolveResource(ctx: Ctx, path: string): Promise<Resource> {
  const parsed = parseResource(path);
  if (parsed === null || parsed.org === undefined) {
    throw keyholeError("invalid_argument", `resource "${path}" is malformed: use "org" or "org/workspace"`);
  }
  const org = await ctx.db
    .query("orgs")
    .withIndex("by_slug", (q) => q.eq("slug", parsed.org!))
    .unique();
  if (org === null) throw noAccess(path);
  if (parsed.workspace === undefined) return { org };
  const workspace = await ctx.db
    .query("workspaces")
    .withIndex("by_org_slug", (q) => q.eq("orgId", org._id).eq("slug", parsed.workspace!))
    .unique();
  if (workspace === null) throw noAccess(path);
  return { org, workspace };
}

/** resolveResource + authorize, for functions addressed by path. */
export async function authorizePath(
  ctx: Ctx,
  permission: Permission,
  path: string,
  itemName?: string,
): Promise<{ principal: Authorized; resource: Resource }> {
  await requirePrincipal(ctx); // first: anonymous callers learn nothing about which names exist
  const resource = await resolveResource(ctx, path);
  const principal = await authorize(ctx, permission, resource, itemName);
  return { principal, resource };
}
