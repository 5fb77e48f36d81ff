/**
 * The MCP tools: the operations of table.ts that have an `mcp` binding, served
 * by the official SDK's McpServer. A tool is listed when the credential may
 * use its permission somewhere (authn.allowedPermissions); the exact check,
 * per workspace and item, runs in the Convex function each call makes.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";
import type { ActionCtx } from "../../_generated/server";
import type { Permission } from "../permissions";
import type { McpReach, Who } from "./authn";
import { fieldSchemas, type Operation, permissionOf } from "./operations";
import { type CallState, toolError, toolResult } from "./render";
import { OPERATIONS } from "./table";

const SERVER_INFO = { name: "keyhole", version: "0.1.0" };

type Tool = Operation & { mcp: NonNullable<Operation["mcp"]> };

export const TOOLS: readonly Tool[] = OPERATIONS.filter((op): op is Tool => op.mcp !== undefined);

/** The permissions the tools need (asked of authenticate, to list only usable tools). */
export const TOOL_PERMISSIONS: Permission[] = [...new Set(TOOLS.flatMap((t) => permissionOf(t) ?? []))];

/** The org a tool call's arguments name (its `workspace`), or null. */
export function orgNamedBy(args: unknown): string | null {
  const workspace = (args as { workspace?: unknown } | null | undefined)?.workspace;
  return typeof workspace === "string" ? workspace.split("/")[0] : null;
}

/**
 * The SDK validates JSON Schema only for elicitation results, which this
 * server never requests. Its default (Ajv) would compile validators with
 * `new Function` if ever asked, which a runtime may forbid: refuse instead,
 * and don't construct Ajv on every request.
 */
const noJsonSchemaValidator: jsonSchemaValidator = {
  getValidator: () => () => ({ valid: false, data: undefined, errorMessage: "JSON Schema validation is not supported here" }),
};

export type ToolContext = {
  ctx: ActionCtx;
  req: Request;
  who: Who;
  token: string;
  /** Permissions this credential may use somewhere: tools needing others are not listed. */
  allowed: Set<Permission>;
  /** An org whose token policy turns MCP clients off refuses every tool call on it. */
  checkOrg: (org: string) => Promise<void>;
  state: CallState;
};

function callTool(tool: Tool, t: ToolContext) {
  return async (args: Record<string, unknown>): Promise<CallToolResult> => {
    try {
      const org = orgNamedBy(args);
      if (org !== null) await t.checkOrg(org);
      const result = await tool.run({ ctx: t.ctx, req: t.req, who: t.who, token: t.token, checkOrg: t.checkOrg }, (args ?? {}) as never);
      return toolResult(result);
    } catch (e) {
      return toolError(e, t.state);
    }
  };
}

/** An McpServer offering the tools this credential may use. */
export function buildServer(t: ToolContext): McpServer {
  const server = new McpServer(SERVER_INFO, {
    jsonSchemaValidator: noJsonSchemaValidator,
    capabilities: { tools: {} },
    instructions:
      "keyhole: read and write workspace items and fetch OAuth connection tokens with the permissions of this credential.",
  });
  for (const tool of TOOLS) {
    const permission = permissionOf(tool);
    if (permission !== null && !t.allowed.has(permission)) continue;
    server.registerTool(
      tool.name,
      {
        description: tool.mcp.description,
        inputSchema: fieldSchemas(tool),
        annotations: { readOnlyHint: tool.mcp.readOnly, destructiveHint: tool.mcp.destructive ?? false, openWorldHint: false },
      },
      callTool(tool, t),
    );
  }
  return server;
}

type RpcMessage = { method?: unknown; params?: { name?: unknown; arguments?: unknown } };

/** The tools/call messages of a JSON-RPC body (one message or a batch). */
export function toolCalls(body: unknown): { tool: Tool | undefined; args: unknown }[] {
  const messages = (Array.isArray(body) ? body : [body]) as RpcMessage[];
  return messages
    .filter((m) => m !== null && typeof m === "object" && m.method === "tools/call")
    .map((m) => ({ tool: TOOLS.find((t) => t.name === m.params?.name), args: m.params?.arguments }));
}

/** The orgs a request's tool calls reach (authenticate checks their token policy for MCP clients). */
export function reachOf(body: unknown): McpReach {
  const calls = toolCalls(body);
  const orgs = new Set(calls.flatMap(({ args }) => orgNamedBy(args) ?? []));
  return { orgs: [...orgs], memberOrgs: calls.some(({ tool }) => tool?.name === "list_workspaces") };
}

/** The first tools/call in the body naming a known tool this credential may not use. */
export function deniedTool(body: unknown, allowed: Set<Permission>): { name: string; permission: Permission } | null {
  for (const { tool } of toolCalls(body)) {
    const permission = tool ? permissionOf(tool) : null;
    if (tool && permission !== null && !allowed.has(permission)) return { name: tool.name, permission };
  }
  return null;
}

/** `, scope="…"`: the permissions of the tools a request calls (for a step-up challenge), or nothing. */
export function calledPermissions(body: unknown): string {
  const perms = new Set(toolCalls(body).flatMap(({ tool }) => (tool ? (permissionOf(tool) ?? []) : [])));
  return perms.size === 0 ? "" : `, scope="${[...perms].join(" ")}"`;
}
