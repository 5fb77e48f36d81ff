/**
 * The MCP endpoint `/mcp`: Streamable HTTP (MCP 2025-03-26 / 2025-06-18),
 * JSON-RPC 2.0, served by the official SDK (`McpServer` + the web-standard
 * streamable HTTP transport) in stateless JSON mode: one server per request,
 * no session ids — a session id would never authenticate anything anyway.
 *
 * Every request is authenticated with `Authorization: Bearer <token>` before
 * the SDK sees it:
 *   missing → 401, `WWW-Authenticate: Bearer resource_metadata="<site>/.well-known/oauth-protected-resource/mcp", scope="…"`
 *     (the RFC 9728 document names keyhole's own authorization server:
 *     MCP clients then log in by OAuth, convex/model/oauthServer/)
 *   unknown / expired / revoked → 401 whose JSON-RPC error code is −32001
 *   a tool the credential may not use → 403, JSON-RPC error −32003,
 *     `WWW-Authenticate: Bearer error="insufficient_scope", scope="<permission>"` (step-up)
 * An OAuth access token issued for another resource (RFC 8707) is a 401.
 * A tool call that a Convex function refuses mid-call gets the same answers
 * (401/−32001 if the credential died, 403/−32003 if access is denied).
 * `Origin`, when present, must be the dashboard or the site itself.
 * GET and DELETE → 405 (no SSE stream, no sessions to end).
 *
 * tools/list shows only the tools this credential may call somewhere: a tool
 * is listed when its permission is allowed by the token's scopes ∩ the owner's
 * role in at least one organization (authn.allowedPermissions); the exact
 * check, per workspace and item, runs in the Convex function each call makes.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";
import type { HttpRouter } from "convex/server";
import { z } from "zod";
import { internal } from "../../_generated/api";
import { type ActionCtx, httpAction } from "../../_generated/server";
import { isKeyholeError } from "../errors";
import { validateItemData } from "../items";
import { vend } from "../oauth/flows";
import { DEFAULT_SCOPES, resourceMetadataUrl, resourceUrl } from "../oauthServer/config";
import type { Permission } from "../permissions";
import type { Who } from "./authn";
import {
  corsHeaders,
  credentialInUrl,
  HttpError,
  preflight,
  readBodyText,
  SECURITY_HEADERS,
  trustedOrigins,
} from "./common";
import { authenticate } from "./guard";

export const MCP_PATH = "/mcp";

/** JSON-RPC error codes of this endpoint (−32000…−32099 are implementation-defined). */
export const JSONRPC = {
  parseError: -32700,
  invalidRequest: -32600,
  serverError: -32000,
  /** Missing, unknown, expired or revoked credential (HTTP 401). */
  unauthorized: -32001,
  /** The credential may not do this (HTTP 403). */
  forbidden: -32003,
} as const;

const SERVER_INFO = { name: "keyhole", version: "0.1.0" };

// --- tools ------------------------------------------------------------------------

type ToolCtx = { ctx: ActionCtx; who: Who };
type ToolDef = {
  name: string;
  permission: Permission | null;
  description: string;
  inputSchema: z.ZodRawShape;
  readOnly: boolean;
  destructive?: boolean;
  run: (t: ToolCtx, args: Record<string, unknown>) => Promise<unknown>;
};

const zWorkspace = z.string().min(3).max(130).describe('the workspace, "org/workspace", e.g. "acme/site"');
const zItemName = z.string().min(1).max(200).describe('item name, e.g. "Signal/temp-1"');

class ToolFailure extends Error {}

export const TOOLS: ToolDef[] = [
  {
    name: "whoami",
    permission: null,
    description: "Who this credential is: kind (user, pat, agent), owner, token name or agent id, scopes and expiry.",
    inputSchema: {},
    readOnly: true,
    run: async ({ who }) => who,
  },
  {
    name: "list_workspaces",
    permission: "workspace:read",
    description: "The organizations you belong to (with your role) and the workspaces in each that this credential may read.",
    inputSchema: {},
    readOnly: true,
    run: async ({ ctx, who }) => {
      // Orgs the credential may read (org:read), plus the ones its scopes name
      // (a token scoped to "acme/site=workspace:read" has no org:read).
      const orgs: { org: string; name?: string; role?: string }[] = (await ctx.runQuery(internal.orgs.listMineInternal, {})).map(
        (o) => ({ org: o.slug, name: o.name, role: o.role }),
      );
      for (const e of [...(who.scopes ?? []), ...(who.parentScopes ?? [])]) {
        const org = e.resource?.split("/")[0];
        if (org && !orgs.some((o) => o.org === org)) orgs.push({ org });
      }
      const out = [];
      for (const o of orgs.slice(0, 50)) {
        try {
          await ctx.runQuery(internal.governance.mcpAllowed, { org: o.org }); // token policy: allowMcpClients
          const workspaces = await ctx.runQuery(internal.workspaces.listInternal, { org: o.org });
          out.push({ ...o, workspaces: workspaces.map((w) => ({ slug: w.slug, name: w.name })) });
        } catch (e) {
          // an org this credential may not read workspaces of is left out
          if (!(isKeyholeError(e) && e.data.code === "forbidden")) throw e;
        }
      }
      return out;
    },
  },
  {
    name: "list_items",
    permission: "work:read",
    description: "Items in a workspace, by name, paginated (pass the returned cursor for the next page).",
    inputSchema: {
      workspace: zWorkspace,
      cursor: z.string().max(2048).optional().describe("cursor from the previous page"),
      limit: z.number().int().min(1).max(100).optional().describe("page size, default 50"),
    },
    readOnly: true,
    run: async ({ ctx }, a) => {
      const page = await ctx.runQuery(internal.items.listInternal, {
        workspace: a.workspace as string,
        paginationOpts: { numItems: (a.limit as number | undefined) ?? 50, cursor: (a.cursor as string | undefined) ?? null },
      });
      return { items: page.page, cursor: page.isDone ? null : page.continueCursor, isDone: page.isDone };
    },
  },
  {
    name: "get_item",
    permission: "work:read",
    description: "One item's JSON data.",
    inputSchema: { workspace: zWorkspace, name: zItemName },
    readOnly: true,
    run: async ({ ctx }, a) => {
      const item = await ctx.runQuery(internal.items.getInternal, { workspace: a.workspace as string, name: a.name as string });
      if (item === null) throw new ToolFailure(`not_found: no item "${String(a.name)}" in ${String(a.workspace)}`);
      return item;
    },
  },
  {
    name: "put_item",
    permission: "work:write",
    description: "Creates or replaces an item with the given JSON data (at most 64 KB).",
    inputSchema: { workspace: zWorkspace, name: zItemName, data: z.any().describe("any JSON value") },
    readOnly: false,
    run: async ({ ctx }, a) => {
      if (a.data === undefined) throw new ToolFailure("invalid_argument: data is required");
      validateItemData(a.data); // before the mutation's argument encoding could fail on it
      const id = await ctx.runMutation(internal.items.putInternal, { workspace: a.workspace as string, name: a.name as string, data: a.data });
      return { _id: id, name: a.name };
    },
  },
  {
    name: "delete_item",
    permission: "work:write",
    description: "Deletes an item.",
    inputSchema: { workspace: zWorkspace, name: zItemName },
    readOnly: false,
    destructive: true,
    run: async ({ ctx }, a) => {
      const removed = await ctx.runMutation(internal.items.removeInternal, { workspace: a.workspace as string, name: a.name as string });
      if (!removed) throw new ToolFailure(`not_found: no item "${String(a.name)}" in ${String(a.workspace)}`);
      return { deleted: true, name: a.name };
    },
  },
  {
    name: "get_connection_token",
    permission: "connections:use",
    description:
      "A fresh access token for one of your OAuth connections (e.g. github), to call that provider's API. Audited.",
    inputSchema: { provider: z.string().min(1).max(64).describe('the provider, e.g. "github"') },
    readOnly: true,
    run: async ({ ctx }, a) => await vend(ctx, a.provider as string),
  },
];

const TOOL_PERMISSIONS = [...new Set(TOOLS.flatMap((t) => (t.permission ? [t.permission] : [])))];

/** What went wrong inside a tool call that must change the HTTP answer. */
type CallState = { unauthenticated: boolean; forbidden: string | null };

/**
 * The SDK validates JSON Schema only for elicitation results, which this
 * server never requests. Its default (Ajv) would compile validators with
 * `new Function` if ever asked, which a runtime may forbid: refuse instead,
 * and don't construct Ajv on every request.
 */
const noJsonSchemaValidator: jsonSchemaValidator = {
  getValidator: () => () => ({ valid: false, data: undefined, errorMessage: "JSON Schema validation is not supported here" }),
};

function buildServer(t: ToolCtx, allowed: Set<Permission>, state: CallState): McpServer {
  const server = new McpServer(SERVER_INFO, {
    jsonSchemaValidator: noJsonSchemaValidator,
    capabilities: { tools: {} },
    instructions:
      "keyhole: read and write workspace items and fetch OAuth connection tokens with the permissions of this credential.",
  });
  for (const tool of TOOLS) {
    if (tool.permission !== null && !allowed.has(tool.permission)) continue;
    server.registerTool(
      tool.name,
      {
        description: tool.description,
        inputSchema: tool.inputSchema,
        annotations: { readOnlyHint: tool.readOnly, destructiveHint: tool.destructive ?? false, openWorldHint: false },
      },
      async (args: Record<string, unknown>): Promise<CallToolResult> => {
        try {
          // An org whose token policy turns MCP clients off refuses every tool call on it.
          if (typeof args?.workspace === "string") {
            await t.ctx.runQuery(internal.governance.mcpAllowed, { org: args.workspace.split("/")[0] });
          }
          const result = await tool.run(t, args ?? {});
          return { content: [{ type: "text", text: JSON.stringify(result ?? null, null, 2) }] };
        } catch (e) {
          return { isError: true, content: [{ type: "text", text: toolErrorText(e, state) }] };
        }
      },
    );
  }
  return server;
}

function toolErrorText(e: unknown, state: CallState): string {
  if (e instanceof ToolFailure) return e.message;
  if (isKeyholeError(e)) {
    const { code, message } = e.data;
    if (code === "unauthenticated" || code === "expired" || code === "revoked") {
      state.unauthenticated = true;
      return "unauthenticated: invalid or expired token";
    }
    if (code === "forbidden") state.forbidden = message;
    return `${code}: ${message}`;
  }
  if (e instanceof Error && /ArgumentValidationError|Value does not match validator/.test(e.message)) {
    return "invalid_argument: invalid arguments";
  }
  console.error(`keyhole mcp: tool failed (${e instanceof Error ? e.name : typeof e})`);
  return "internal error";
}

// --- HTTP -------------------------------------------------------------------------

type JsonRpcId = string | number | null;

function rpcError(
  status: number,
  id: JsonRpcId,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  data?: unknown,
): Response {
  return new Response(
    JSON.stringify({ jsonrpc: "2.0", id, error: { code, message, ...(data === undefined ? {} : { data }) } }),
    { status, headers: { "Content-Type": "application/json", ...SECURITY_HEADERS, ...headers } },
  );
}

/** The id of a single JSON-RPC request, for error answers; null otherwise. */
function idOf(body: unknown): JsonRpcId {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const id = (body as { id?: unknown }).id;
    if (typeof id === "string" || typeof id === "number") return id;
  }
  return null;
}

type RpcMessage = { method?: unknown; params?: { name?: unknown } };

/** The first tools/call in the body naming a known tool this credential may not use. */
function deniedTool(body: unknown, allowed: Set<Permission>): ToolDef | null {
  const messages = (Array.isArray(body) ? body : [body]) as RpcMessage[];
  for (const m of messages) {
    if (m === null || typeof m !== "object" || m.method !== "tools/call") continue;
    const tool = TOOLS.find((t) => t.name === m.params?.name);
    if (tool && tool.permission !== null && !allowed.has(tool.permission)) return tool;
  }
  return null;
}

/** `, scope="…"`: the permissions of the tools a request calls (for a step-up challenge), or nothing. */
function calledPermissions(body: unknown): string {
  const messages = (Array.isArray(body) ? body : [body]) as RpcMessage[];
  const perms = new Set<string>();
  for (const m of messages) {
    if (m === null || typeof m !== "object" || m.method !== "tools/call") continue;
    const tool = TOOLS.find((t) => t.name === m.params?.name);
    if (tool?.permission) perms.add(tool.permission);
  }
  return perms.size === 0 ? "" : `, scope="${[...perms].join(" ")}"`;
}

function merge(res: Response, headers: Record<string, string>): Response {
  for (const [k, v] of Object.entries({ ...SECURITY_HEADERS, ...headers })) res.headers.set(k, v);
  return res;
}

export async function handleMcpRequest(ctx: ActionCtx, req: Request): Promise<Response> {
  const resource_metadata = resourceMetadataUrl("mcp");
  const cors = corsHeaders(req, ["Mcp-Session-Id"]);
  const origin = req.headers.get("Origin");
  if (origin !== null && !trustedOrigins().has(origin)) {
    return rpcError(403, null, JSONRPC.serverError, "origin not allowed", { Vary: "Origin" });
  }
  if (credentialInUrl(new URL(req.url))) {
    return rpcError(400, null, JSONRPC.invalidRequest, "credentials are not accepted in the URL: use the Authorization header", cors);
  }
  if (req.method === "OPTIONS") return preflight(req, ["Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID"]);

  // The body first (bounded), so auth errors can echo the request id.
  let text = "";
  if (req.method === "POST") {
    try {
      text = await readBodyText(req);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(400, "invalid_argument", "unreadable body");
      return rpcError(err.status, null, err.status === 413 ? JSONRPC.serverError : JSONRPC.parseError, err.message, cors);
    }
  }
  let body: unknown;
  let parsed = true;
  try {
    body = JSON.parse(text);
  } catch {
    parsed = false;
  }
  const id = parsed ? idOf(body) : null;

  let auth;
  try {
    auth = await authenticate(ctx, req, {
      challenge: { resource_metadata, scope: DEFAULT_SCOPES.join(" ") },
      permissions: TOOL_PERMISSIONS,
      resource: resourceUrl("mcp"),
    });
  } catch (e) {
    if (e instanceof HttpError) {
      return rpcError(e.status, id, e.status === 429 || e.status === 401 ? JSONRPC.unauthorized : JSONRPC.serverError, e.message, {
        ...cors,
        ...e.headers,
      });
    }
    console.error(`keyhole mcp: authentication failed (${e instanceof Error ? e.name : typeof e})`);
    return rpcError(500, id, JSONRPC.serverError, "internal error", cors);
  }

  if (req.method !== "POST") {
    return rpcError(405, null, JSONRPC.serverError, "Method not allowed: this endpoint takes POST only (no SSE stream, no sessions)", {
      ...cors,
      Allow: "POST, OPTIONS",
    });
  }
  if (!parsed) return rpcError(400, null, JSONRPC.parseError, "Parse error: invalid JSON", cors);

  const allowed = new Set(auth.permissions ?? []);
  const denied = deniedTool(body, allowed);
  if (denied) {
    return rpcError(
      403,
      id,
      JSONRPC.forbidden,
      `forbidden: this credential may not use ${denied.name} (needs ${denied.permission})`,
      {
        ...cors,
        "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${denied.permission}", resource_metadata="${resource_metadata}"`,
      },
      { code: "forbidden", permission: denied.permission },
    );
  }

  const state: CallState = { unauthenticated: false, forbidden: null };
  const server = buildServer({ ctx, who: auth.who }, allowed, state);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  try {
    await server.connect(transport);
    const res = await transport.handleRequest(req, {
      parsedBody: body,
      authInfo: {
        token: auth.token,
        clientId: auth.who.tokenId ?? auth.who.sessionId ?? auth.who.userId,
        scopes: [...allowed],
        ...(auth.who.expiresAt ? { expiresAt: Math.floor(auth.who.expiresAt / 1000) } : {}),
      },
    });
    if (state.unauthenticated) {
      return rpcError(401, id, JSONRPC.unauthorized, "invalid or expired token", {
        ...cors,
        "WWW-Authenticate": `Bearer error="invalid_token", resource_metadata="${resource_metadata}"`,
      });
    }
    if (state.forbidden !== null) {
      return rpcError(
        403,
        id,
        JSONRPC.forbidden,
        `forbidden: ${state.forbidden}`,
        {
          ...cors,
          "WWW-Authenticate": `Bearer error="insufficient_scope"${calledPermissions(body)}, resource_metadata="${resource_metadata}"`,
        },
        { code: "forbidden" },
      );
    }
    return merge(res, cors);
  } finally {
    await server.close();
  }
}

/** Registers this area's routes on the site router (see convex/http.ts). */
export function registerMcpRoutes(http: HttpRouter): void {
  const handler = httpAction(handleMcpRequest);
  for (const method of ["POST", "GET", "DELETE", "OPTIONS"] as const) http.route({ path: MCP_PATH, method, handler });
}
