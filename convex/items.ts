import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import * as Items from "./model/items";

/** Creates or replaces an item (work:write on the item's name). Returns its id. */
export const put = mutation({
  args: { workspace: v.string(), name: v.string(), data: v.any() },
  returns: v.id("items"),
  handler: async (ctx, args) => await Items.putItem(ctx, args),
});

/** One item, or null when there is none (work:read on the item's name). */
export const get = query({
  args: { workspace: v.string(), name: v.string() },
  returns: v.union(Items.vItem, v.null()),
  handler: async (ctx, args) => await Items.getItem(ctx, args),
});

/** Items by name, paginated; items outside the token's allowedMatches are left out. */
export const list = query({
  args: { workspace: v.string(), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(Items.vItem),
  handler: async (ctx, args) => await Items.listItems(ctx, args),
});

/** Deletes an item (work:write on its name); false when it did not exist. */
export const remove = mutation({
  args: { workspace: v.string(), name: v.string() },
  returns: v.boolean(),
  handler: async (ctx, args) => await Items.removeItem(ctx, args),
});
