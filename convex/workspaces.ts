import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import * as Orgs from "./model/orgs";

/** Creates a workspace in an org (workspace:write on the org). */
export const create = mutation({
  args: { org: v.string(), slug: v.string(), name: v.string() },
  returns: v.id("workspaces"),
  handler: async (ctx, args) => await Orgs.createWorkspace(ctx, args),
});

/** The org's workspaces the caller may read (workspace:read). */
export const list = query({
  args: { org: v.string() },
  returns: v.array(Orgs.vWorkspaceSummary),
  handler: async (ctx, args) => await Orgs.listWorkspaces(ctx, args.org),
});
