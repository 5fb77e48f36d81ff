/**
 * Organizations, memberships and workspaces. Every access decision goes
 * through authorize(): the caller's current role in the org ∩ the scopes of
 * the token it presents.
 *
 * Role rules: members:write manages the member list; making or changing an
 * admin also needs org:configure (owners, admins); making, demoting or
 * removing an owner needs org:admin (owners only); an org always keeps at
 * least one owner. Anyone may leave an org (remove themselves) unless they
 * are its last owner.
 */
import { v } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { vRole } from "../validators";
import { actorOf, logAudit } from "./audit";
import { authorize, authorizePath, resolveResource, type Resource } from "./authorize";
import { isKeyholeError, keyholeError } from "./errors";
import type { Permission, Role } from "./permissions";
import { isSlug } from "./scopes";
import type { PrincipalMutationCtx, PrincipalQueryCtx, UserMutationCtx } from "./functions";

/** Bounds on what one call reads. */
export const MAX_ORGS_PER_USER = 100;
export const MAX_MEMBERS_LISTED = 500;
export const MAX_WORKSPACES_PER_ORG = 200;

export const vOrgSummary = v.object({ _id: v.id("orgs"), slug: v.string(), name: v.string(), role: vRole });
export const vMember = v.object({
  userId: v.id("users"),
  email: v.union(v.string(), v.null()),
  name: v.union(v.string(), v.null()),
  role: vRole,
});
export const vWorkspaceSummary = v.object({ _id: v.id("workspaces"), slug: v.string(), name: v.string() });

export function validateSlug(slug: string, what: string): string {
  if (!isSlug(slug)) {
    throw keyholeError(
      "invalid_argument",
      `${what} slug must be 1-63 characters of lowercase letters, digits and "-", starting with a letter or digit`,
    );
  }
  return slug;
}

export function validateDisplayName(name: string, what: string): string {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) {
    throw keyholeError("invalid_argument", `${what} name must be 1-100 characters`);
  }
  return trimmed;
}

function isForbidden(e: unknown): boolean {
  return isKeyholeError(e) && e.data.code === "forbidden";
}

// --- organizations ------------------------------------------------------------

/** Creating an org is an account-level act: people only, not tokens. The creator becomes its owner. */
export async function createOrg(ctx: UserMutationCtx, args: { slug: string; name: string }): Promise<Id<"orgs">> {
  const p = ctx.user;
  const slug = validateSlug(args.slug, "organization");
  const name = validateDisplayName(args.name, "organization");
  const existing = await ctx.db
    .query("orgs")
    .withIndex("by_slug", (q) => q.eq("slug", slug))
    .first();
  if (existing !== null) throw keyholeError("conflict", `the organization slug "${slug}" is taken`);
  const mine = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", p.userId))
    .take(MAX_ORGS_PER_USER);
  if (mine.length >= MAX_ORGS_PER_USER) {
    throw keyholeError("conflict", `you belong to ${MAX_ORGS_PER_USER} organizations, the most allowed`);
  }
  const now = Date.now();
  const orgId = await ctx.db.insert("orgs", { slug, name, createdBy: p.userId, createdAt: now });
  await ctx.db.insert("memberships", { orgId, userId: p.userId, role: "owner", createdAt: now });
  await logAudit(ctx, {
    userId: p.userId,
    action: "org.created",
    actor: actorOf(p),
    targetType: "org",
    targetId: orgId,
    details: `slug=${slug}`,
  });
  return orgId;
}

/** The orgs the caller belongs to and may read (a token sees only those its scopes reach). */
export async function listMyOrgs(ctx: PrincipalQueryCtx) {
  const p = ctx.principal;
  const memberships = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", p.userId))
    .take(MAX_ORGS_PER_USER);
  const out: { _id: Id<"orgs">; slug: string; name: string; role: Role }[] = [];
  for (const m of memberships) {
    const org = await ctx.db.get("orgs", m.orgId);
    if (org === null) continue;
    try {
      await authorize(ctx, "org:read", { org });
    } catch (e) {
      if (isForbidden(e)) continue;
      throw e;
    }
    out.push({ _id: org._id, slug: org.slug, name: org.name, role: m.role });
  }
  return out.sort((a, b) => a.slug.localeCompare(b.slug));
}

// --- members ------------------------------------------------------------------

async function membershipOf(ctx: QueryCtx, orgId: Id<"orgs">, userId: Id<"users">) {
  return await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", userId).eq("orgId", orgId))
    .unique();
}

export async function listMembers(ctx: QueryCtx, orgSlug: string) {
  const { resource } = await authorizePath(ctx, "members:read", orgSlug);
  const rows = await ctx.db
    .query("memberships")
    .withIndex("by_org", (q) => q.eq("orgId", resource.org._id))
    .take(MAX_MEMBERS_LISTED);
  const out = [];
  for (const m of rows) {
    const user = await ctx.db.get("users", m.userId);
    out.push({ userId: m.userId, email: user?.email ?? null, name: user?.name ?? null, role: m.role });
  }
  return out;
}

/** The permission a role change to/from `role` needs beyond members:write. */
export function permissionForRole(role: Role): Permission | null {
  if (role === "owner") return "org:admin";
  if (role === "admin") return "org:configure";
  return null;
}

/** An org keeps at least one owner: refuses to demote or remove the last one. */
async function keepAnOwner(ctx: QueryCtx, resource: Resource, target: Doc<"memberships">): Promise<void> {
  if (target.role !== "owner") return;
  // 0, 1 or 2: enough to know whether the target is the last owner.
  const owners = await ctx.db
    .query("memberships")
    .withIndex("by_org_role", (q) => q.eq("orgId", resource.org._id).eq("role", "owner"))
    .take(2);
  if (owners.length <= 1) {
    throw keyholeError("conflict", `"${resource.org.slug}" needs at least one owner: make someone else owner first`);
  }
}

export async function setRole(ctx: MutationCtx, args: { org: string; userId: Id<"users">; role: Role }) {
  const { principal, resource } = await authorizePath(ctx, "org:configure", args.org);
  const target = await membershipOf(ctx, resource.org._id, args.userId);
  if (target === null) throw keyholeError("not_found", `that user is not a member of "${resource.org.slug}"`);
  if (target.role === args.role) return null;
  for (const role of [target.role, args.role]) {
    const extra = permissionForRole(role);
    if (extra) await authorize(ctx, extra, resource);
  }
  await keepAnOwner(ctx, resource, target);
  await ctx.db.patch("memberships", target._id, { role: args.role });
  await auditMembers(ctx, principal, resource, "member.role_changed", args.userId, `from=${target.role} to=${args.role}`);
  return null;
}

export async function removeMember(ctx: PrincipalMutationCtx, args: { org: string; userId: Id<"users"> }) {
  const caller = ctx.principal;
  const resource = await resolveResource(ctx, args.org);
  // A person leaving needs only membership (org:read); removing others, or
  // any removal through a token, needs members:write.
  const self = caller.kind === "user" && caller.userId === args.userId;
  const principal = await authorize(ctx, self ? "org:read" : "members:write", resource);
  const target = await membershipOf(ctx, resource.org._id, args.userId);
  if (target === null) throw keyholeError("not_found", `that user is not a member of "${resource.org.slug}"`);
  if (!self) {
    const extra = permissionForRole(target.role);
    if (extra) await authorize(ctx, extra, resource);
  }
  await keepAnOwner(ctx, resource, target);
  await ctx.db.delete("memberships", target._id);
  await auditMembers(ctx, principal, resource, self ? "member.left" : "member.removed", args.userId, `role=${target.role}`);
  return null;
}

async function auditMembers(
  ctx: MutationCtx,
  principal: Awaited<ReturnType<typeof authorize>>,
  resource: Resource,
  action: string,
  userId: Id<"users">,
  details: string,
) {
  const base = { action, actor: actorOf(principal), targetType: "org", targetId: resource.org._id };
  const text = `org=${resource.org.slug} user=${userId} ${details}`;
  // In the actor's log and, when it is someone else, in the affected person's.
  await logAudit(ctx, { ...base, userId: principal.userId, details: text });
  if (userId !== principal.userId) await logAudit(ctx, { ...base, userId, details: text });
}

// --- workspaces ---------------------------------------------------------------

export async function createWorkspace(ctx: MutationCtx, args: { org: string; slug: string; name: string }) {
  const slug = validateSlug(args.slug, "workspace");
  const name = validateDisplayName(args.name, "workspace");
  const { principal, resource } = await authorizePath(ctx, "workspace:write", args.org);
  const existing = await ctx.db
    .query("workspaces")
    .withIndex("by_org_slug", (q) => q.eq("orgId", resource.org._id).eq("slug", slug))
    .first();
  if (existing !== null) throw keyholeError("conflict", `"${resource.org.slug}/${slug}" already exists`);
  const count = await ctx.db
    .query("workspaces")
    .withIndex("by_org_slug", (q) => q.eq("orgId", resource.org._id))
    .take(MAX_WORKSPACES_PER_ORG);
  if (count.length >= MAX_WORKSPACES_PER_ORG) {
    throw keyholeError("conflict", `an organization has at most ${MAX_WORKSPACES_PER_ORG} workspaces`);
  }
  const workspaceId = await ctx.db.insert("workspaces", { orgId: resource.org._id, slug, name, createdAt: Date.now() });
  await logAudit(ctx, {
    userId: principal.userId,
    action: "workspace.created",
    actor: actorOf(principal),
    targetType: "workspace",
    targetId: workspaceId,
    details: `${resource.org.slug}/${slug}`,
  });
  return workspaceId;
}

/**
 * The org's workspaces the caller may read (workspace:read on each; a token
 * scoped to one workspace sees that one). A caller who can read none of them
 * and lacks workspace:read on the org is refused, as is a non-member.
 */
export async function listWorkspaces(ctx: PrincipalQueryCtx, orgSlug: string) {
  const resource = await resolveResource(ctx, orgSlug);
  const all = await ctx.db
    .query("workspaces")
    .withIndex("by_org_slug", (q) => q.eq("orgId", resource.org._id))
    .take(MAX_WORKSPACES_PER_ORG);
  const out: { _id: Id<"workspaces">; slug: string; name: string }[] = [];
  for (const ws of all) {
    try {
      await authorize(ctx, "workspace:read", { org: resource.org, workspace: ws });
    } catch (e) {
      if (isForbidden(e)) continue;
      throw e;
    }
    out.push({ _id: ws._id, slug: ws.slug, name: ws.name });
  }
  if (out.length === 0) await authorize(ctx, "workspace:read", resource);
  return out;
}
