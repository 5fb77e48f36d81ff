// Items in a workspace. Each public function has an internal twin (…Internal,
// same definition: convex/model/functions.ts) for the HTTP API and MCP.
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { internalMutation, internalQuery, mutation, query } from "./_generated/server";
import { mutationDefinition, queryDefinition } from "./model/functions";
import * as Items from "./model/items";

const put_ = mutationDefinition({
  args: { workspace: v.string(), name: v.string(), data: v.any() },
  returns: v.id("items"),
  handler: async (ctx, args) => await Items.putItem(ctx, args),
});
/** Creates or replaces an item (work:write on the item's name). Returns its id. */
export const put = mutation(put_);
export const putInternal = internalMutation(put_);

const get_ = queryDefinition({
  args: { workspace: v.string(), name: v.string() },
  returns: v.union(Items.vItem, v.null()),
  handler: async (ctx, args) => await Items.getItem(ctx, args),
});
/** One item, or null when there is none (work:read on the item's name). */
export const get = query(get_);
export const getInternal = internalQuery(get_);

const list_ = queryDefinition({
  args: { workspace: v.string(), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(Items.vItem),
  handler: async (ctx, args) => await Items.listItems(ctx, args),
});
/** Items by name, paginated; items outside the token's allowedMatches are left out. */
export const list = query(list_);
export const listInternal = internalQuery(list_);

const remove_ = mutationDefinition({
  args: { workspace: v.string(), name: v.string() },
  returns: v.boolean(),
  handler: async (ctx, args) => await Items.removeItem(ctx, args),
});
/** Deletes an item (work:write on its name); false when it did not exist. */
export const remove = mutation(remove_);
export const removeInternal = internalMutation(remove_);
