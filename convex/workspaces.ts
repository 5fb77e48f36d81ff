import { v } from "convex/values";
import { internalQuery, mutation, query } from "./_generated/server";
import { queryDefinition } from "./model/functions";
import * as Orgs from "./model/orgs";

/** Creates a workspace in an org (workspace:write on the org). */
export const create = mutation({
  args: { org: v.string(), slug: v.string(), name: v.string() },
  returns: v.id("workspaces"),
  handler: async (ctx, args) => await Orgs.createWorkspace(ctx, args),
});

const list_ = queryDefinition({
  args: { org: v.string() },
  returns: v.array(Orgs.vWorkspaceSummary),
  handler: async (ctx, args) => await Orgs.listWorkspaces(ctx, args.org),
});
/** The org's workspaces the caller may read (workspace:read). */
export const list = query(list_);
/** list for the MCP endpoint (same definition: convex/model/functions.ts). */
export const listInternal = internalQuery(list_);
