// What the dashboard shows at a glance: the overview, a token's activity
// chart, and where the HTTP API and MCP endpoint live. Thin wrappers over
// convex/model/activity.ts. Every function here needs a person signed in
// through @convex-dev/auth (requireUser): PATs and agent sessions get `forbidden`.
import { v } from "convex/values";
import { internalMutation, query } from "./_generated/server";
import { internal } from "./_generated/api";
import * as Activity from "./model/activity";
import { siteUrl } from "./model/keys";
import { requireUser } from "./model/principal";

/** Active tokens, live agent sessions, and this week's use and refusals (signed-in person only). */
export const overview = query({
  args: {},
  returns: Activity.vOverview,
  handler: async (ctx) => await Activity.overview(ctx, await requireUser(ctx, "read the overview")),
});

/**
 * One of my tokens over the last 30 UTC days: minutes with recorded use and
 * refused requests per day (signed-in person only; someone else's → not_found).
 */
export const tokenActivity = query({
  args: { tokenId: v.string() },
  returns: v.array(Activity.vDayCount),
  handler: async (ctx, { tokenId }) =>
    await Activity.tokenActivity(ctx, await requireUser(ctx, "read token activity"), tokenId),
});

/**
 * The public addresses of this deployment (signed-in person only, though none
 * is a secret): the site URL of the HTTP API and the MCP endpoint.
 */
export const siteInfo = query({
  args: {},
  returns: v.object({ siteUrl: v.string(), mcpUrl: v.string() }),
  handler: async (ctx) => {
    await requireUser(ctx, "read the site URL");
    const site = siteUrl().replace(/\/+$/, "");
    return { siteUrl: site, mcpUrl: `${site}/mcp` };
  },
});

/** Daily housekeeping: drops activity rows older than the retention (90 days). */
export const purgeOldActivity = internalMutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    if (await Activity.purgeOldActivity(ctx)) await ctx.scheduler.runAfter(0, internal.dashboard.purgeOldActivity, {});
    return null;
  },
});
