/**
 * The operations on work: who am I, workspaces, items, connection tokens.
 * Items are served by both surfaces (HTTP routes and MCP tools, from the same
 * entry); listing workspaces and vending connection tokens are MCP tools only.
 */
import { v } from "convex/values";
import { z } from "zod";
import { internal } from "../../_generated/api";
import { isKeyholeError, keyholeError } from "../errors";
import { validateItemData, vItem } from "../items";
import { vVendedToken } from "../oauth/connections";
import { vend } from "../oauth/flows";
import { vOrgSummary } from "../orgs";
import { vWho } from "./authn";
import { HttpError, parseWith, readBody } from "./common";
import { type HttpInput, type Operation, operation } from "./operations";

const workspaceField = (s: z.ZodString) =>
  s.min(3).max(130).describe('the workspace, "org/workspace", e.g. "acme/site"');
const itemNameField = (s: z.ZodString) => s.min(1).max(200).describe('item name, e.g. "Signal/temp-1"');
const itemArgs = { workspace: v.string(), name: v.string() };
const itemFields = { workspace: workspaceField, name: itemNameField };

const ITEM_PATH = "/api/workspaces/:org/:ws/items/:name{.+}";
const workspaceOf = (p: Record<string, string>) => `${p.org}/${p.ws}`;
const itemOf = ({ params }: HttpInput) => ({ workspace: workspaceOf(params), name: params.name });
const noItem = (a: { workspace: string; name: string }) => keyholeError("not_found", `no item "${a.name}" in ${a.workspace}`);

const zLimit = z.coerce.number().int().min(1).max(100).default(50);
const zPutBody = z.strictObject({ data: z.unknown().refine((d) => d !== undefined, "required") });

/** ?limit= and ?cursor= of GET …/items ("" is no cursor). */
function pageOf({ url }: HttpInput) {
  const limit = parseWith(zLimit, url.searchParams.get("limit") ?? undefined);
  const cursor = url.searchParams.get("cursor");
  if (cursor !== null && cursor.length > 2048) throw new HttpError(400, "invalid_argument", "cursor is malformed");
  return { limit, cursor: cursor || undefined };
}

const vWorkspaceListing = v.object({
  org: v.string(),
  name: v.optional(v.string()),
  role: v.optional(vOrgSummary.fields.role),
  workspaces: v.array(v.object({ slug: v.string(), name: v.string() })),
});

const whoami = operation({
  name: "whoami",
  access: "credential",
  args: {},
  returns: vWho,
  run: async ({ who }) => who!,
  http: { method: "GET", path: "/api/whoami" },
  mcp: {
    description: "Who this credential is: kind (user, pat, agent), owner, token name or agent id, scopes and expiry.",
    readOnly: true,
  },
});

const listWorkspaces = operation({
  name: "list_workspaces",
  access: "workspace:read",
  args: {},
  returns: v.array(vWorkspaceListing),
  run: async ({ ctx, who, checkOrg }) => {
    // Orgs the credential may read (org:read), plus the ones its scopes name
    // (a token scoped to "acme/site=workspace:read" has no org:read).
    const mine = await ctx.runQuery(internal.orgs.listMineInternal, {});
    const orgs: { org: string; name?: string; role?: (typeof mine)[number]["role"] }[] = mine.map((o) => ({
      org: o.slug,
      name: o.name,
      role: o.role,
    }));
    for (const e of [...(who!.scopes ?? []), ...(who!.parentScopes ?? [])]) {
      const org = e.resource?.split("/")[0];
      if (org && !orgs.some((o) => o.org === org)) orgs.push({ org });
    }
    const out = [];
    for (const o of orgs.slice(0, 50)) {
      try {
        await checkOrg(o.org);
        const workspaces: { slug: string; name: string }[] = await ctx.runQuery(internal.workspaces.listInternal, { org: o.org });
        out.push({ ...o, workspaces: workspaces.map((w) => ({ slug: w.slug, name: w.name })) });
      } catch (e) {
        // an org this credential may not read workspaces of is left out
        if (!(isKeyholeError(e) && e.data.code === "forbidden")) throw e;
      }
    }
    return out;
  },
  mcp: {
    description: "The organizations you belong to (with your role) and the workspaces in each that this credential may read.",
    readOnly: true,
  },
});

const listItems = operation({
  name: "list_items",
  access: "work:read",
  args: { workspace: v.string(), cursor: v.optional(v.string()), limit: v.optional(v.number()) },
  returns: v.object({ items: v.array(vItem), cursor: v.union(v.string(), v.null()), isDone: v.boolean() }),
  fields: {
    workspace: workspaceField,
    cursor: (s) => s.unwrap().max(2048).optional().describe("cursor from the previous page"),
    limit: (s) => s.unwrap().int().min(1).max(100).optional().describe("page size, default 50"),
  },
  run: async ({ ctx }, a) => {
    const page = await ctx.runQuery(internal.items.listInternal, {
      workspace: a.workspace,
      paginationOpts: { numItems: a.limit ?? 50, cursor: a.cursor ?? null },
    });
    return { items: page.page, cursor: page.isDone ? null : page.continueCursor, isDone: page.isDone };
  },
  http: { method: "GET", path: "/api/workspaces/:org/:ws/items", input: (r) => ({ workspace: workspaceOf(r.params), ...pageOf(r) }) },
  mcp: { description: "Items in a workspace, by name, paginated (pass the returned cursor for the next page).", readOnly: true },
});

const getItem = operation({
  name: "get_item",
  access: "work:read",
  args: itemArgs,
  returns: vItem,
  fields: itemFields,
  run: async ({ ctx }, a) => {
    const item = await ctx.runQuery(internal.items.getInternal, a);
    if (item === null) throw noItem(a);
    return item;
  },
  http: { method: "GET", path: ITEM_PATH, input: itemOf },
  mcp: { description: "One item's JSON data.", readOnly: true },
});

const putItem = operation({
  name: "put_item",
  access: "work:write",
  args: { ...itemArgs, data: v.any() },
  returns: v.object({ _id: v.id("items"), name: v.string() }),
  fields: { ...itemFields, data: () => z.any().describe("any JSON value") },
  run: async ({ ctx }, a) => {
    if (a.data === undefined) throw keyholeError("invalid_argument", "data is required");
    validateItemData(a.data); // before the mutation's argument encoding could fail on it
    const id = await ctx.runMutation(internal.items.putInternal, a);
    return { _id: id, name: a.name };
  },
  http: {
    method: "PUT",
    path: ITEM_PATH,
    input: async (r) => ({ ...itemOf(r), data: parseWith(zPutBody, await readBody(r.req)).data }),
  },
  mcp: { description: "Creates or replaces an item with the given JSON data (at most 64 KB).", readOnly: false },
});

const deleteItem = operation({
  name: "delete_item",
  access: "work:write",
  args: itemArgs,
  returns: v.object({ deleted: v.boolean(), name: v.string() }),
  fields: itemFields,
  run: async ({ ctx }, a) => {
    if (!(await ctx.runMutation(internal.items.removeInternal, a))) throw noItem(a);
    return { deleted: true, name: a.name };
  },
  http: { method: "DELETE", path: ITEM_PATH, input: itemOf },
  mcp: { description: "Deletes an item.", readOnly: false, destructive: true },
});

const getConnectionToken = operation({
  name: "get_connection_token",
  access: "connections:use",
  args: { provider: v.string() },
  returns: vVendedToken,
  fields: { provider: (s) => s.min(1).max(64).describe('the provider, e.g. "github"') },
  run: async ({ ctx }, a) => await vend(ctx, a.provider),
  mcp: {
    description: "A fresh access token for one of your OAuth connections (e.g. github), to call that provider's API. Audited.",
    readOnly: true,
  },
});

/** In the order MCP lists them. */
export const WORK_OPS: readonly Operation[] = [whoami, listWorkspaces, listItems, getItem, putItem, deleteItem, getConnectionToken];
