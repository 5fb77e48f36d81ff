/**
 * The API port's HTTP routes: POST /api/query|mutation|action|function as
 * ConvexHttpClient calls them, plus the few GET probes the CLI uses.
 * (The sync WebSocket on the same port is sync.ts.)
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { convexToJson, type Value } from "convex/values";
import { toFunctionError, type UdfKind } from "./engine.js";
import type { Booted } from "./boot.js";
import type { Logger } from "./log.js";
import { HttpError, identityFrom, MAX_BODY_BYTES, readBody, refuseHost, sendJson } from "./request.js";
import { clientIp, decodeArgs, encodeTs } from "./sync.js";

const API_KINDS: Record<string, UdfKind | "any"> = {
  "/api/query": "query",
  "/api/query_at_ts": "query",
  "/api/mutation": "mutation",
  "/api/action": "action",
  "/api/function": "any",
};

function corsHeaders(req: IncomingMessage, res: ServerResponse) {
  const origin = req.headers.origin;
  res.setHeader("Access-Control-Allow-Origin", typeof origin === "string" ? origin : "*");
  res.setHeader("Vary", "Origin");
  res.setHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  res.setHeader("Access-Control-Allow-Headers", "Content-Type, Authorization, Convex-Client");
  res.setHeader("Access-Control-Max-Age", "86400");
}

/** Waits for the boot to finish (`booted`), then serves one request. */
export async function handleApi(booted: Promise<Booted>, log: Logger, req: IncomingMessage, res: ServerResponse) {
  try {
    const s = await booted;
    if (refuseHost(s.hosts, req, res)) return;
    corsHeaders(req, res);
    const pathname = (req.url ?? "/").split("?")[0]!;
    if (await answerProbe(s, req, res, pathname)) return;
    const kind = API_KINDS[pathname];
    if (!kind) throw new HttpError(404, "NotFound", `No route for ${req.method} ${pathname}`);
    if (req.method !== "POST") throw new HttpError(405, "MethodNotAllowed", `Use POST for ${pathname}`);
    const { path, args } = parseCall(await readBody(req, MAX_BODY_BYTES));
    const { identity } = await identityFrom(s.verifier, req, true);
    try {
      const { value } = await s.engine.call(kind, path, args, {
        identity,
        ip: clientIp(req),
        userAgent: req.headers["user-agent"] ?? null,
      });
      sendJson(res, 200, { status: "success", value: convexToJson(value), logLines: [] });
    } catch (e) {
      const fe = toFunctionError(e);
      if (fe.status === 400) throw new HttpError(400, "BadRequest", fe.message);
      sendJson(res, 560, {
        status: "error",
        errorMessage: fe.message,
        ...(fe.data !== undefined ? { errorData: convexToJson(fe.data) } : {}),
        logLines: [],
      });
    }
  } catch (e) {
    if (e instanceof HttpError) {
      sendJson(res, e.status, { code: e.code, message: e.message });
    } else {
      log.error(`api: ${(e as Error).stack ?? String(e)}`);
      sendJson(res, 500, { code: "InternalServerError", message: "Internal server error" });
    }
  }
}

/** CORS preflight, the liveness probes and /api/query_ts; true when answered. */
async function answerProbe(s: Booted, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  if (req.method === "OPTIONS") {
    res.writeHead(204).end();
    return true;
  }
  if (req.method === "GET" && (pathname === "/" || pathname === "/version" || pathname === "/instance_name")) {
    res.writeHead(200, { "Content-Type": "text/plain" }).end(
      pathname === "/" ? "This Convex deployment (keyhole embedded backend) is running.\n" : "keyhole-local",
    );
    return true;
  }
  if (pathname === "/api/query_ts" && req.method === "POST") {
    await readBody(req, MAX_BODY_BYTES);
    sendJson(res, 200, { ts: encodeTs(s.engine.lastCommitTs) });
    return true;
  }
  return false;
}

/** The body of a function call: `{path, args, format?}`; 400 for anything else. */
function parseCall(raw: Buffer): { path: string; args: Record<string, Value> } {
  let body: { path?: unknown; args?: unknown; format?: unknown };
  try {
    body = JSON.parse(raw.toString("utf8")) as typeof body;
  } catch (e) {
    throw new HttpError(400, "BadJsonBody", `Invalid JSON body: ${(e as Error).message}`);
  }
  if (!body || typeof body !== "object" || typeof body.path !== "string") {
    throw new HttpError(400, "BadRequest", "Request body must be a JSON object with a string `path`");
  }
  if (body.format !== undefined && body.format !== "convex_encoded_json" && body.format !== "json") {
    throw new HttpError(400, "BadRequest", `Unsupported format ${JSON.stringify(body.format)}`);
  }
  try {
    return { path: body.path, args: decodeArgs(body.args) };
  } catch (e) {
    throw new HttpError(400, "BadRequest", `Invalid args: ${(e as Error).message}`);
  }
}
