import { v } from "convex/values";
import { query } from "./_generated/server";
import { requirePrincipal } from "./model/principal";

/** The signed-in person, or the owner of the token presented. */
export const me = query({
  args: {},
  returns: v.object({
    userId: v.id("users"),
    email: v.union(v.string(), v.null()),
    name: v.union(v.string(), v.null()),
  }),
  handler: async (ctx) => {
    const p = await requirePrincipal(ctx);
    const user = await ctx.db.get("users", p.userId);
    return { userId: p.userId, email: user?.email ?? null, name: user?.name ?? null };
  },
});
