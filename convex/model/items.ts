/**
 * Items: named JSON documents in a workspace (`Signal/temp-1`). Reads need
 * work:read, writes work:write, each checked by authorize() with the item
 * name, so a token's `allowedMatches` globs decide which names it reaches.
 * Listing filters out the items a token may not see.
 */
import type { PaginationOptions, PaginationResult } from "convex/server";
import { v } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { authorizePath } from "./authorize";
import { keyholeError } from "./errors";
import { readPage } from "./pagination";
import { scopeSets } from "./principal";
import { scopesAllow, type Target } from "./scopes";
import { MAX_ARRAY_LENGTH, MAX_KEY_LENGTH, MAX_OBJECT_FIELDS, MAX_VALUE_NESTING, whyNotStorable } from "./storable";

export const ITEM_NAME = /^[A-Za-z0-9_.\-/]{1,200}$/;
export const MAX_ITEM_BYTES = 64 * 1024;
export const MAX_PAGE_SIZE = 100;

export const vItem = v.object({
  _id: v.id("items"),
  name: v.string(),
  data: v.any(),
  updatedAt: v.number(),
  updatedBy: v.id("users"),
});

export type Item = { _id: Id<"items">; name: string; data: unknown; updatedAt: number; updatedBy: Id<"users"> };

function toItem(d: Doc<"items">): Item {
  return { _id: d._id, name: d.name, data: d.data, updatedAt: d.updatedAt, updatedBy: d.updatedBy };
}

export function validateItemName(name: string): string {
  if (!ITEM_NAME.test(name)) {
    throw keyholeError(
      "invalid_argument",
      `item name must be 1-200 characters of letters, digits and "_.-/" (e.g. "Signal/temp-1")`,
    );
  }
  return name;
}

/**
 * Plain JSON that Convex can store, at most 64 KB encoded; otherwise
 * `invalid_argument` saying what to change. Every surface runs this before
 * the data goes anywhere (the HTTP API and MCP before calling the mutation,
 * whose argument encoding would otherwise fail with a bare Error).
 */
export function validateItemData(data: unknown): unknown {
  const why = data === undefined ? "it is missing" : whyNotStorable(data);
  if (why !== null) {
    throw keyholeError(
      "invalid_argument",
      `item data cannot be stored: ${why}. Item data is plain JSON whose object keys are printable ASCII ` +
        `(no control characters), at most ${MAX_KEY_LENGTH} characters and not starting with "$"; at most ` +
        `${MAX_VALUE_NESTING} levels deep, ${MAX_ARRAY_LENGTH} elements an array and ${MAX_OBJECT_FIELDS} fields an object`,
    );
  }
  const bytes = new TextEncoder().encode(JSON.stringify(data)).length;
  if (bytes > MAX_ITEM_BYTES) {
    throw keyholeError("invalid_argument", `item data is ${bytes} bytes as JSON; at most ${MAX_ITEM_BYTES} (64 KB) allowed`);
  }
  return data;
}

async function findItem(ctx: QueryCtx, workspaceId: Id<"workspaces">, name: string) {
  return await ctx.db
    .query("items")
    .withIndex("by_workspace_name", (q) => q.eq("workspaceId", workspaceId).eq("name", name))
    .unique();
}

/** A workspace path "org/ws" (an org alone is not a workspace). */
function requireWorkspacePath(path: string): string {
  if (!/^[^/]+\/[^/]+$/.test(path)) {
    throw keyholeError("invalid_argument", `workspace must be "org/workspace" (got ${JSON.stringify(path.slice(0, 140))})`);
  }
  return path;
}

/** Creates or replaces the item `name`. */
export async function putItem(ctx: MutationCtx, args: { workspace: string; name: string; data: unknown }) {
  const name = validateItemName(args.name);
  const { principal, resource } = await authorizePath(ctx, "work:write", requireWorkspacePath(args.workspace), name);
  const data = validateItemData(args.data);
  const workspaceId = resource.workspace!._id;
  const existing = await findItem(ctx, workspaceId, name);
  const fields = { data, updatedAt: Date.now(), updatedBy: principal.userId };
  if (existing !== null) {
    await ctx.db.patch("items", existing._id, fields);
    return existing._id;
  }
  return await ctx.db.insert("items", { workspaceId, name, ...fields });
}

export async function getItem(ctx: QueryCtx, args: { workspace: string; name: string }): Promise<Item | null> {
  const name = validateItemName(args.name);
  const { resource } = await authorizePath(ctx, "work:read", requireWorkspacePath(args.workspace), name);
  const item = await findItem(ctx, resource.workspace!._id, name);
  return item === null ? null : toItem(item);
}

/** Deletes the item; false when there was none. */
export async function removeItem(ctx: MutationCtx, args: { workspace: string; name: string }): Promise<boolean> {
  const name = validateItemName(args.name);
  const { resource } = await authorizePath(ctx, "work:write", requireWorkspacePath(args.workspace), name);
  const item = await findItem(ctx, resource.workspace!._id, name);
  if (item === null) return false;
  await ctx.db.delete("items", item._id);
  return true;
}

/**
 * A page of items by name. work:read on the workspace is required; items
 * whose names the token's allowedMatches exclude are left out of the page
 * (so a page may hold fewer than numItems).
 */
export async function listItems(
  ctx: QueryCtx,
  args: { workspace: string; paginationOpts: PaginationOptions },
): Promise<PaginationResult<Item>> {
  const { principal, resource } = await authorizePath(ctx, "work:read", requireWorkspacePath(args.workspace));
  const result = await readPage(args.paginationOpts, MAX_PAGE_SIZE, (opts) =>
    ctx.db
      .query("items")
      .withIndex("by_workspace_name", (q) => q.eq("workspaceId", resource.workspace!._id))
      .paginate(opts),
  );
  const target: Target = { org: resource.org.slug, workspace: resource.workspace!.slug };
  const sets = scopeSets(principal);
  return {
    ...result,
    page: result.page.filter((d) => sets.every((s) => scopesAllow(s, "work:read", target, d.name))).map(toItem),
  };
}
