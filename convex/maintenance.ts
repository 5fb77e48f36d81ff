import { internal } from "./_generated/api";
import { internalMutation } from "./_generated/server";
import { v } from "convex/values";
import { purgeStaleWindows } from "./model/rateLimit";

/** Rate-limit windows are short; a day-old row only takes space. */
export const purgeRateLimits = internalMutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    if (await purgeStaleWindows(ctx, 24 * 3600_000)) {
      await ctx.scheduler.runAfter(0, internal.maintenance.purgeRateLimits, {});
    }
    return null;
  },
});
