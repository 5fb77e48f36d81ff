import { v } from "convex/values";
import { principalQuery } from "./model/functions";

/** The signed-in person, or the owner of the token presented. */
export const me = principalQuery({
  args: {},
  returns: v.object({
    userId: v.id("users"),
    email: v.union(v.string(), v.null()),
    name: v.union(v.string(), v.null()),
  }),
  handler: async (ctx) => {
    const p = ctx.principal;
    const user = await ctx.db.get("users", p.userId);
    return { userId: p.userId, email: user?.email ?? null, name: user?.name ?? null };
  },
});
