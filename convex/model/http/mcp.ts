/**
 * The MCP endpoint `/mcp`: Streamable HTTP (MCP 2025-03-26 / 2025-06-18),
 * JSON-RPC 2.0, served by the official SDK (`McpServer` + the web-standard
 * streamable HTTP transport) in stateless JSON mode: one server per request,
 * no session ids — a session id would never authenticate anything anyway.
 * The tools are the operations of table.ts with an `mcp` binding (mcpServer.ts).
 *
 * A request goes through these steps (handleMcpRequest), each of which may answer:
 *   refuseEarly   `Origin`, when present, must be the dashboard or the site
 *                 itself; no credential in the URL; OPTIONS preflight
 *   readRpc       the body, bounded, parsed (so refusals can echo the request id)
 *   authenticateMcp  `Authorization: Bearer <token>`, checked once, before the SDK sees it
 *     (with it, which orgs the request reaches refuse MCP clients: the token policy):
 *     missing → 401, `WWW-Authenticate: Bearer resource_metadata="<site>/.well-known/oauth-protected-resource/mcp", scope="…"`
 *       (the RFC 9728 document names keyhole's own authorization server:
 *       MCP clients then log in by OAuth, convex/model/oauthServer/)
 *     unknown / expired / revoked → 401 whose JSON-RPC error code is −32001
 *     An OAuth access token issued for another resource (RFC 8707) is a 401.
 *   refuseRequest GET and DELETE → 405 (no SSE stream, no sessions to end);
 *                 bad JSON → 400; a tool the credential may not use → 403,
 *                 JSON-RPC error −32003, `WWW-Authenticate: Bearer
 *                 error="insufficient_scope", scope="<permission>"` (step-up)
 *   serveRpc      the SDK answers; a tool call that a Convex function refuses
 *                 mid-call gets the same answers (401/−32001 if the credential
 *                 died, 403/−32003 if access is denied).
 */
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { HttpRouter } from "convex/server";
import { type ActionCtx, httpAction } from "../../_generated/server";
import { keyholeError } from "../errors";
import { DEFAULT_SCOPES, resourceMetadataUrl, resourceUrl } from "../oauthServer/config";
import type { Permission } from "../permissions";
import { corsHeaders, credentialInUrl, HttpError, readBodyText, SECURITY_HEADERS, trustedOrigins } from "./common";
import { authenticate, type Authenticated } from "./guard";
import type { OrgRefusal } from "./authn";
import { buildServer, calledPermissions, deniedTool, reachOf, TOOL_PERMISSIONS } from "./mcpServer";
import { type CallState, type JsonRpcId, preflight, rpcError } from "./render";

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

type HeaderMap = Record<string, string>;
/** A request body: its JSON (when it parsed) and the id of a single request. */
type Rpc = { body: unknown; parsed: boolean; id: JsonRpcId };

/** The id of a single JSON-RPC request, for error answers; null otherwise. */
function idOf(body: unknown): JsonRpcId {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const id = (body as { id?: unknown }).id;
    if (typeof id === "string" || typeof id === "number") return id;
  }
  return null;
}

function refuseEarly(req: Request, cors: HeaderMap): Response | null {
  const origin = req.headers.get("Origin");
  if (origin !== null && !trustedOrigins().has(origin)) {
    return rpcError(403, null, JSONRPC.serverError, "origin not allowed", { Vary: "Origin" });
  }
  if (credentialInUrl(new URL(req.url))) {
    return rpcError(400, null, JSONRPC.invalidRequest, "credentials are not accepted in the URL: use the Authorization header", cors);
  }
  if (req.method === "OPTIONS") return preflight(req, ["Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID"]);
  return null;
}

async function readRpc(req: Request, cors: HeaderMap): Promise<Rpc | Response> {
  let text = "";
  if (req.method === "POST") {
    try {
      text = await readBodyText(req);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(400, "invalid_argument", "unreadable body");
      return rpcError(err.status, null, err.status === 413 ? JSONRPC.serverError : JSONRPC.parseError, err.message, cors);
    }
  }
  try {
    const body: unknown = JSON.parse(text);
    return { body, parsed: true, id: idOf(body) };
  } catch {
    return { body: undefined, parsed: false, id: null };
  }
}

async function authenticateMcp(ctx: ActionCtx, req: Request, rpc: Rpc, cors: HeaderMap): Promise<Authenticated | Response> {
  try {
    return await authenticate(ctx, req, {
      challenge: { resource_metadata: resourceMetadataUrl("mcp"), scope: DEFAULT_SCOPES.join(" ") },
      permissions: TOOL_PERMISSIONS,
      resource: resourceUrl("mcp"),
      mcp: reachOf(rpc.body),
    });
  } catch (e) {
    if (e instanceof HttpError) {
      const code = e.status === 429 || e.status === 401 ? JSONRPC.unauthorized : JSONRPC.serverError;
      return rpcError(e.status, rpc.id, code, e.message, { ...cors, ...e.headers });
    }
    console.error(`keyhole mcp: authentication failed (${e instanceof Error ? e.name : typeof e})`);
    return rpcError(500, rpc.id, JSONRPC.serverError, "internal error", cors);
  }
}

function refuseRequest(req: Request, rpc: Rpc, allowed: Set<Permission>, cors: HeaderMap): Response | null {
  if (req.method !== "POST") {
    return rpcError(405, null, JSONRPC.serverError, "Method not allowed: this endpoint takes POST only (no SSE stream, no sessions)", {
      ...cors,
      Allow: "POST, OPTIONS",
    });
  }
  if (!rpc.parsed) return rpcError(400, null, JSONRPC.parseError, "Parse error: invalid JSON", cors);
  const denied = deniedTool(rpc.body, allowed);
  if (denied === null) return null;
  return rpcError(
    403,
    rpc.id,
    JSONRPC.forbidden,
    `forbidden: this credential may not use ${denied.name} (needs ${denied.permission})`,
    {
      ...cors,
      "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${denied.permission}", resource_metadata="${resourceMetadataUrl("mcp")}"`,
    },
    { code: "forbidden", permission: denied.permission },
  );
}

/** The answer after the tool calls: a dead credential or a refusal mid-call changes the HTTP status. */
function afterCalls(res: Response, rpc: Rpc, state: CallState, cors: HeaderMap): Response {
  const resource_metadata = resourceMetadataUrl("mcp");
  if (state.unauthenticated) {
    return rpcError(401, rpc.id, JSONRPC.unauthorized, "invalid or expired token", {
      ...cors,
      "WWW-Authenticate": `Bearer error="invalid_token", resource_metadata="${resource_metadata}"`,
    });
  }
  if (state.forbidden !== null) {
    return rpcError(
      403,
      rpc.id,
      JSONRPC.forbidden,
      `forbidden: ${state.forbidden}`,
      {
        ...cors,
        "WWW-Authenticate": `Bearer error="insufficient_scope"${calledPermissions(rpc.body)}, resource_metadata="${resource_metadata}"`,
      },
      { code: "forbidden" },
    );
  }
  for (const [k, v] of Object.entries({ ...SECURITY_HEADERS, ...cors })) res.headers.set(k, v);
  return res;
}

/**
 * The token policy of an org, for an MCP client (governance: allowMcpClients),
 * as authenticate decided it for every org the request reaches.
 */
function orgCheck(refusals: OrgRefusal[]) {
  const byOrg = new Map(refusals.map((r) => [r.org, r]));
  return async (org: string): Promise<void> => {
    const refused = byOrg.get(org);
    if (refused) throw keyholeError(refused.code, refused.message);
  };
}

async function serveRpc(ctx: ActionCtx, req: Request, rpc: Rpc, auth: Authenticated, allowed: Set<Permission>, cors: HeaderMap) {
  const state: CallState = { unauthenticated: false, forbidden: null };
  const { who, token } = auth;
  const server = buildServer({ ctx, req, who, token, allowed, checkOrg: orgCheck(auth.mcpRefusals ?? []), state });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  try {
    await server.connect(transport);
    const res = await transport.handleRequest(req, {
      parsedBody: rpc.body,
      authInfo: {
        token,
        clientId: who.tokenId ?? who.sessionId ?? who.userId,
        scopes: [...allowed],
        ...(who.expiresAt ? { expiresAt: Math.floor(who.expiresAt / 1000) } : {}),
      },
    });
    return afterCalls(res, rpc, state, cors);
  } finally {
    await server.close();
  }
}

export async function handleMcpRequest(ctx: ActionCtx, req: Request): Promise<Response> {
  const cors = corsHeaders(req, ["Mcp-Session-Id"]);
  const early = refuseEarly(req, cors);
  if (early) return early;
  const rpc = await readRpc(req, cors);
  if (rpc instanceof Response) return rpc;
  const auth = await authenticateMcp(ctx, req, rpc, cors);
  if (auth instanceof Response) return auth;
  const allowed = new Set(auth.permissions ?? []);
  return refuseRequest(req, rpc, allowed, cors) ?? (await serveRpc(ctx, req, rpc, auth, allowed, cors));
}

/** Registers this area's routes on the site router (see convex/http.ts). */
export function registerMcpRoutes(http: HttpRouter): void {
  const handler = httpAction(handleMcpRequest);
  for (const method of ["POST", "GET", "DELETE", "OPTIONS"] as const) http.route({ path: MCP_PATH, method, handler });
}
