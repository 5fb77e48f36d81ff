import { v } from "convex/values";
import { internalTwin, principalMutation, principalQuery } from "./model/functions";
import * as Orgs from "./model/orgs";

/** Creates a workspace in an org (workspace:write on the org). */
export const create = principalMutation({
  args: { org: v.string(), slug: v.string(), name: v.string() },
  returns: v.id("workspaces"),
  handler: async (ctx, args) => await Orgs.createWorkspace(ctx, args),
});

/** The org's workspaces the caller may read (workspace:read). */
export const list = principalQuery({
  args: { org: v.string() },
  returns: v.array(Orgs.vWorkspaceSummary),
  handler: async (ctx, args) => await Orgs.listWorkspaces(ctx, args.org),
});
/** list for the MCP endpoint (same definition and rule: convex/model/functions.ts). */
export const listInternal = internalTwin(list);
