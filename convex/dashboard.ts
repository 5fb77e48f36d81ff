// What the dashboard shows at a glance: the overview, a token's activity
// chart, and where the HTTP API and MCP endpoint live. Thin wrappers over
// convex/model/activity.ts. Every function here needs a person signed in
// through @convex-dev/auth (userQuery): PATs and agent sessions get `forbidden`.
import { v } from "convex/values";
import { internalMutation } from "./_generated/server";
import { userQuery } from "./model/functions";
import { internal } from "./_generated/api";
import * as Activity from "./model/activity";
import { siteUrl } from "./model/keys";

/** Active tokens, live agent sessions, and this week's use and refusals (signed-in person only). */
export const overview = userQuery({
  action: "read the overview",
  args: {},
  returns: Activity.vOverview,
  handler: async (ctx) => await Activity.overview(ctx, ctx.user),
});

/**
 * One of my tokens over the last 30 UTC days: minutes with recorded use and
 * refused requests per day (signed-in person only; someone else's → not_found).
 */
export const tokenActivity = userQuery({
  action: "read token activity",
  args: { tokenId: v.string() },
  returns: v.array(Activity.vDayCount),
  handler: async (ctx, { tokenId }) =>
    await Activity.tokenActivity(ctx, ctx.user, tokenId),
});

/**
 * The public addresses of this deployment (signed-in person only, though none
 * is a secret): the site URL of the HTTP API and the MCP endpoint.
 */
export const siteInfo = userQuery({
  action: "read the site URL",
  args: {},
  returns: v.object({ siteUrl: v.string(), mcpUrl: v.string() }),
  handler: async () => {
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
