/**
 * Where the HTTP API's and the MCP endpoint's answers are shaped, and where
 * anything an operation threw becomes an answer:
 *
 *   HTTP  200/201/202 JSON of the result · `{error: {code, message}}` with the
 *         status of the code (toHttpError) · CORS preflight
 *   MCP   a tool result (JSON text) · a tool error `"<code>: <message>"`
 *         (toolErrorText) · a JSON-RPC error answer (rpcError)
 *
 * Nothing here logs request data: an unknown failure logs only its class name.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ConvexError } from "convex/values";
import { type ErrorCode, isKeyholeError } from "../errors";
import { challenge, CORS_METHODS, corsHeaders, HttpError, invalidCredential, INVALID_TOKEN_MESSAGE, SECURITY_HEADERS } from "./common";

/** The one error body of the HTTP API: `{error: {code, message}}`. */
export type ApiErrorBody = { error: { code: string; message: string } };

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...SECURITY_HEADERS, ...headers },
  });
}

export function errorResponse(e: HttpError, extraHeaders: Record<string, string> = {}): Response {
  const body: ApiErrorBody = { error: { code: e.code, message: e.message } };
  return jsonResponse(e.status, body, { ...e.headers, ...extraHeaders });
}

/** Answers a CORS preflight: 204 with grants for the dashboard, 403 for anyone else. */
export function preflight(req: Request, allowHeaders: string[] = []): Response {
  const cors = corsHeaders(req);
  if (!cors["Access-Control-Allow-Origin"]) {
    return errorResponse(new HttpError(403, "forbidden", "origin not allowed"), { Vary: "Origin" });
  }
  return new Response(null, {
    status: 204,
    headers: {
      ...cors,
      "Access-Control-Allow-Methods": CORS_METHODS,
      "Access-Control-Allow-Headers": ["Authorization", "Content-Type", ...allowHeaders].join(", "),
      "Access-Control-Max-Age": "600",
    },
  });
}

// --- errors from operations ------------------------------------------------------

const STATUS_OF: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  expired: 401,
  revoked: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
};

const CREDENTIAL_FAILURES: ReadonlySet<string> = new Set(["unauthenticated", "expired", "revoked"]);

/** Seconds to wait, from a rate_limited message ("try again in N s"); at least 1. */
export function retryAfterSeconds(message: string): number {
  const m = /(\d+)\s*s\b/.exec(message);
  return m ? Math.max(1, Number(m[1])) : 60;
}

/** Convex refused the arguments (its messages can quote argument values: never passed on). */
function isArgumentValidationError(e: unknown): boolean {
  return e instanceof Error && /ArgumentValidationError|Value does not match validator/.test(e.message);
}

/**
 * Maps anything a route threw to an HttpError. keyholeErrors keep their
 * code and message; the three credential failures collapse into one 401 body;
 * anything unknown becomes a generic 500 (details go nowhere: messages of
 * argument validation failures can quote argument values).
 */
export function toHttpError(e: unknown, challengeExtra: Record<string, string> = {}): HttpError {
  if (e instanceof HttpError) return e;
  if (isKeyholeError(e)) {
    const { code, message } = e.data;
    const status = STATUS_OF[code] ?? 400;
    if (status === 401) return invalidCredential(challengeExtra);
    if (status === 403) {
      return new HttpError(403, "forbidden", message, {
        "WWW-Authenticate": challenge({ error: "insufficient_scope", ...challengeExtra }),
      });
    }
    if (status === 429) {
      return new HttpError(429, "rate_limited", message, { "Retry-After": String(retryAfterSeconds(message)) });
    }
    return new HttpError(status, code, message);
  }
  if (e instanceof ConvexError) return new HttpError(400, "invalid_argument", "request refused");
  if (isArgumentValidationError(e)) return new HttpError(400, "invalid_argument", "invalid arguments");
  console.error(`keyhole http: internal error (${e instanceof Error ? e.name : typeof e})`);
  return new HttpError(500, "internal", "internal error");
}

// --- MCP -----------------------------------------------------------------------------

export type JsonRpcId = string | number | null;

/** A JSON-RPC error answer with an HTTP status (the MCP endpoint's refusals). */
export function rpcError(
  status: number,
  id: JsonRpcId,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  data?: unknown,
): Response {
  return jsonResponse(status, { jsonrpc: "2.0", id, error: { code, message, ...(data === undefined ? {} : { data }) } }, headers);
}

/** A tool call's result: its JSON, as text. */
export function toolResult(result: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(result ?? null, null, 2) }] };
}

/** What went wrong inside tool calls that must change the HTTP answer (mcp.ts). */
export type CallState = { unauthenticated: boolean; forbidden: string | null };

/** A tool call's failure as a tool error; a dead credential or a refusal is also noted in `state`. */
export function toolError(e: unknown, state: CallState): CallToolResult {
  return { isError: true, content: [{ type: "text", text: toolErrorText(e, state) }] };
}

function toolErrorText(e: unknown, state: CallState): string {
  if (isKeyholeError(e)) {
    const { code, message } = e.data;
    if (CREDENTIAL_FAILURES.has(code)) {
      state.unauthenticated = true;
      return `unauthenticated: ${INVALID_TOKEN_MESSAGE}`;
    }
    if (code === "forbidden") state.forbidden = message;
    return `${code}: ${message}`;
  }
  if (isArgumentValidationError(e)) return "invalid_argument: invalid arguments";
  console.error(`keyhole mcp: tool failed (${e instanceof Error ? e.name : typeof e})`);
  return "internal error";
}
