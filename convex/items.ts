// Items in a workspace: any live credential, then work:read / work:write on
// the item's name (authorizePath in convex/model/items.ts). Each function
// has an internal twin (…Internal, same definition and rule:
// convex/model/functions.ts) for the HTTP API and MCP.
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { internalTwin, principalMutation, principalQuery } from "./model/functions";
import * as Items from "./model/items";

/** Creates or replaces an item (work:write on the item's name). Returns its id. */
export const put = principalMutation({
  args: { workspace: v.string(), name: v.string(), data: v.any() },
  returns: v.id("items"),
  handler: async (ctx, args) => await Items.putItem(ctx, args),
});
export const putInternal = internalTwin(put);

/** One item, or null when there is none (work:read on the item's name). */
export const get = principalQuery({
  args: { workspace: v.string(), name: v.string() },
  returns: v.union(Items.vItem, v.null()),
  handler: async (ctx, args) => await Items.getItem(ctx, args),
});
export const getInternal = internalTwin(get);

/** Items by name, paginated; items outside the token's allowedMatches are left out. */
export const list = principalQuery({
  args: { workspace: v.string(), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(Items.vItem),
  handler: async (ctx, args) => await Items.listItems(ctx, args),
});
export const listInternal = internalTwin(list);

/** Deletes an item (work:write on its name); false when it did not exist. */
export const remove = principalMutation({
  args: { workspace: v.string(), name: v.string() },
  returns: v.boolean(),
  handler: async (ctx, args) => await Items.removeItem(ctx, args),
});
export const removeInternal = internalTwin(remove);
