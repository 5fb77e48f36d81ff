import { v } from "convex/values";
import { internalQuery, mutation, query } from "./_generated/server";
import { queryDefinition } from "./model/functions";
import * as Orgs from "./model/orgs";
import { vRole } from "./validators";

/** Creates an organization; the creator (a signed-in person) becomes its owner. */
export const create = mutation({
  args: { slug: v.string(), name: v.string() },
  returns: v.id("orgs"),
  handler: async (ctx, args) => await Orgs.createOrg(ctx, args),
});

const listMine_ = queryDefinition({
  args: {},
  returns: v.array(Orgs.vOrgSummary),
  handler: async (ctx) => await Orgs.listMyOrgs(ctx),
});
/** The caller's organizations with their role (a token sees the ones its scopes reach). */
export const listMine = query(listMine_);
/** listMine for the MCP endpoint (same definition: convex/model/functions.ts). */
export const listMineInternal = internalQuery(listMine_);

/** Members of an org (members:read). */
export const listMembers = query({
  args: { org: v.string() },
  returns: v.array(Orgs.vMember),
  handler: async (ctx, args) => await Orgs.listMembers(ctx, args.org),
});

/** Adds an existing account by email (members:write; admin needs org:configure, owner org:admin). */
export const addMember = mutation({
  args: { org: v.string(), email: v.string(), role: vRole },
  returns: v.id("memberships"),
  handler: async (ctx, args) => await Orgs.addMember(ctx, args),
});

/** Changes a member's role (org:configure; to or from owner needs org:admin; an org keeps one owner). */
export const setRole = mutation({
  args: { org: v.string(), userId: v.id("users"), role: vRole },
  returns: v.null(),
  handler: async (ctx, args) => await Orgs.setRole(ctx, args),
});

/** Removes a member (members:write), or leaves the org when it is yourself. */
export const removeMember = mutation({
  args: { org: v.string(), userId: v.id("users") },
  returns: v.null(),
  handler: async (ctx, args) => await Orgs.removeMember(ctx, args),
});
