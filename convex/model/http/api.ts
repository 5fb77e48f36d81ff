/**
 * The JSON HTTP API under /api/ on the site URL.
 *
 * Every route authenticates with `Authorization: Bearer <token>` (guard.ts)
 * and then runs, as the caller, the internal twins of the public Convex
 * functions (same definitions: convex/model/functions.ts), so the one
 * authorize() decides access exactly as it does for every other client.
 * Errors have one shape, `{error: {code, message}}`:
 *   400 malformed (and any credential in the URL; a refused refresh is 400
 *   `invalid_grant`) · 401 missing / invalid /
 *   expired / revoked (one body for all three) · 403 insufficient scope ·
 *   404 · 405 · 409 · 413 body over MAX_BODY_BYTES · 429 + Retry-After ·
 *   500 generic.
 *
 * Routes (see docs/http-mcp.md):
 *   GET    /api/whoami
 *   GET    /api/pats?status=active|expired|revoked|all     POST /api/pats
 *   GET    /api/pats/<name>                                 DELETE /api/pats/<name>
 *   POST   /api/sessions   POST /api/sessions/refresh   DELETE /api/sessions
 *   GET    /api/workspaces/<org>/<ws>/items?limit=&cursor=
 *   GET|PUT|DELETE /api/workspaces/<org>/<ws>/items/<name with slashes>
 *   POST   /api/tokens/introspect     (RFC 7662)
 *   POST   /api/tokens/revoke-leaked  (anyone; rate-limited per IP)
 */
import type { HttpRouter, RoutableMethod } from "convex/server";
import { z } from "zod";
import { internal } from "../../_generated/api";
import { type ActionCtx, httpAction } from "../../_generated/server";
import { validateItemData } from "../items";
import { whyNotStorable } from "../storable";
import {
  bearerOf,
  corsHeaders,
  credentialInUrl,
  errorResponse,
  HttpError,
  invalidCredential,
  jsonResponse,
  missingCredential,
  parseWith,
  preflight,
  readBody,
  safeDecode,
  TOKEN_IN_URL,
  toHttpError,
  tooManyFailures,
} from "./common";
import { authenticate, inspect } from "./guard";
import { isKeyholeError } from "../errors";
import { PERMISSIONS } from "../permissions";
import { DEFAULT_SCOPES, resourceMetadataUrl, resourceUrl } from "../oauthServer/config";

type Params = Record<string, string>;
type Handler = (ctx: ActionCtx, req: Request, params: Params, url: URL) => Promise<Response>;
type Route = { pattern: RegExp; keys: string[]; methods: Partial<Record<string, Handler>> };

// --- body schemas (zod) ------------------------------------------------------------

const zScopeEntry = z.object({
  resource: z.string().max(200).optional(),
  permissions: z.array(z.string().max(64)).max(50),
  allowedMatches: z.array(z.string().max(128)).max(20).optional(),
});
const zScopes = z.array(z.union([z.string().max(300), zScopeEntry])).max(50);

const zCreatePat = z.strictObject({
  name: z.string().min(1).max(64),
  scopes: zScopes.default([]),
  expiresIn: z.number().int().positive().optional(),
  description: z.string().max(256).optional(),
  type: z.enum(["PAT", "MCP"]).optional(),
});

const zCreateSession = z.strictObject({
  agentId: z.string().min(1).max(128),
  ttl: z.number().int().positive().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  scopes: zScopes.optional(),
});

const zRefresh = z.strictObject({
  refreshToken: z.string().min(1).max(512).optional(),
  ttl: z.number().int().positive().optional(),
});

const zPutItem = z.strictObject({ data: z.unknown().refine((d) => d !== undefined, "required") });

const zTokenBody = z.object({
  token: z.string().min(1).max(8192),
  token_type_hint: z.string().max(64).optional(),
});

const zStatus = z.enum(["active", "expired", "revoked", "all"]).default("all");
const zLimit = z.coerce.number().int().min(1).max(100).default(50);

// --- authentication (RFC 6750 / 9728 / 8707) ------------------------------------------

/**
 * WWW-Authenticate parameters of an API refusal: where the resource metadata
 * is, and the scopes to ask for — the permission a 403 names (step-up), else
 * the defaults.
 */
function apiChallenge(e?: unknown): Record<string, string> {
  let scope = DEFAULT_SCOPES.join(" ");
  if (isKeyholeError(e) && e.data.code === "forbidden") {
    const needed = PERMISSIONS.find((p) => new RegExp(`(^|[^a-z:])${p}($|[^a-z:])`).test(e.data.message));
    if (needed) scope = needed;
  }
  return { resource_metadata: resourceMetadataUrl("api"), scope };
}

/** Every API request authenticates for the API resource: an OAuth token issued for /mcp is refused here. */
async function authenticateApi(ctx: ActionCtx, req: Request) {
  return await authenticate(ctx, req, { challenge: apiChallenge(), resource: resourceUrl("api") });
}

// --- handlers ---------------------------------------------------------------------

const whoami: Handler = async (ctx, req) => {
  const { who } = await authenticateApi(ctx, req);
  return jsonResponse(200, who);
};

const listPats: Handler = async (ctx, req, _p, url) => {
  await authenticateApi(ctx, req);
  const status = parseWith(zStatus, url.searchParams.get("status") ?? undefined);
  const out = await ctx.runQuery(internal.auth.listApiTokensInternal, { status });
  return jsonResponse(200, out);
};

const createPat: Handler = async (ctx, req) => {
  await authenticateApi(ctx, req);
  const body = parseWith(zCreatePat, await readBody(req));
  const created = await ctx.runMutation(internal.auth.createApiTokenInternal, body);
  return jsonResponse(201, created);
};

/** The caller's token called `name`: the active one, else the newest. */
async function patByName(ctx: ActionCtx, name: string, activeOnly: boolean) {
  const { tokens } = await ctx.runQuery(internal.auth.listApiTokensInternal, { status: activeOnly ? "active" : "all" });
  const same = tokens.filter((t) => t.name === name);
  const found = same.find((t) => t.status === "active") ?? same[0];
  if (!found) throw new HttpError(404, "not_found", `no ${activeOnly ? "active " : ""}token named "${name.slice(0, 64)}"`);
  return found;
}

const getPat: Handler = async (ctx, req, p) => {
  await authenticateApi(ctx, req);
  const found = await patByName(ctx, p.name, false);
  return jsonResponse(200, await ctx.runQuery(internal.auth.getApiTokenInternal, { tokenId: found._id }));
};

const revokePat: Handler = async (ctx, req, p) => {
  await authenticateApi(ctx, req);
  const found = await patByName(ctx, p.name, true);
  return jsonResponse(200, await ctx.runMutation(internal.auth.revokeApiTokenInternal, { tokenId: found._id }));
};

const createSession: Handler = async (ctx, req) => {
  await authenticateApi(ctx, req);
  const body = parseWith(zCreateSession, await readBody(req));
  const why = body.metadata === undefined ? null : whyNotStorable(body.metadata);
  if (why !== null) throw new HttpError(400, "invalid_argument", `metadata cannot be stored: ${why}`);
  const created = await ctx.runMutation(internal.auth.createSessionInternal, body);
  return jsonResponse(201, created);
};

/**
 * With `{refreshToken}` the refresh token is the credential (no bearer needed,
 * the session token may have expired) and the pair rotates; without it, the
 * bearer is the current, unexpired session token and only a new session token
 * comes back (never a refresh token, never a later expiry). A refusal
 * (unknown, ended, replayed, expired) is 400 `invalid_grant` (RFC 6749 §5.2);
 * a replay has then already ended the whole session family.
 */
const refreshSession: Handler = async (ctx, req) => {
  const body = parseWith(zRefresh, await readBody(req));
  let args: { refreshToken: string } | { token: string };
  if (body.refreshToken !== undefined) args = { refreshToken: body.refreshToken };
  else {
    const bearer = bearerOf(req);
    if (!bearer.present) throw missingCredential();
    if (bearer.token === null) throw invalidCredential();
    args = { token: bearer.token };
  }
  const result = await ctx.runMutation(internal.auth.refreshSessionInternal, { ...args, ttl: body.ttl });
  if (!result.ok) throw new HttpError(400, "invalid_grant", result.message);
  const { ok: _ok, ...credentials } = result;
  return jsonResponse(200, credentials);
};

const endSession: Handler = async (ctx, req) => {
  const { who, token } = await authenticateApi(ctx, req);
  if (who.kind !== "agent") {
    throw new HttpError(400, "invalid_argument", "DELETE /api/sessions ends the agent session whose token you present");
  }
  await ctx.runMutation(internal.auth.endSessionInternal, { token });
  return jsonResponse(200, { ended: true, sessionId: who.sessionId });
};

const workspaceOf = (p: Params) => `${p.org}/${p.ws}`;

const listItems: Handler = async (ctx, req, p, url) => {
  await authenticateApi(ctx, req);
  const numItems = parseWith(zLimit, url.searchParams.get("limit") ?? undefined);
  const cursor = url.searchParams.get("cursor");
  if (cursor !== null && cursor.length > 2048) throw new HttpError(400, "invalid_argument", "cursor is malformed");
  const page = await ctx.runQuery(internal.items.listInternal, {
    workspace: workspaceOf(p),
    paginationOpts: { numItems, cursor: cursor || null },
  });
  return jsonResponse(200, { items: page.page, cursor: page.isDone ? null : page.continueCursor, isDone: page.isDone });
};

const getItem: Handler = async (ctx, req, p) => {
  await authenticateApi(ctx, req);
  const item = await ctx.runQuery(internal.items.getInternal, { workspace: workspaceOf(p), name: p.name });
  if (item === null) throw new HttpError(404, "not_found", `no item "${p.name}" in ${workspaceOf(p)}`);
  return jsonResponse(200, item);
};

const putItem: Handler = async (ctx, req, p) => {
  await authenticateApi(ctx, req);
  const body = parseWith(zPutItem, await readBody(req));
  validateItemData(body.data); // before the mutation's argument encoding could fail on it
  const id = await ctx.runMutation(internal.items.putInternal, { workspace: workspaceOf(p), name: p.name, data: body.data });
  return jsonResponse(200, { _id: id, name: p.name });
};

const deleteItem: Handler = async (ctx, req, p) => {
  await authenticateApi(ctx, req);
  const removed = await ctx.runMutation(internal.items.removeInternal, { workspace: workspaceOf(p), name: p.name });
  if (!removed) throw new HttpError(404, "not_found", `no item "${p.name}" in ${workspaceOf(p)}`);
  return jsonResponse(200, { deleted: true, name: p.name });
};

/**
 * RFC 7662. The caller authenticates; the token to inspect is in the body
 * (form-encoded or JSON). Unknown, foreign, expired or revoked → `{active:
 * false}` and nothing else. Inspecting a token other than the presented one
 * needs `tokens:read`.
 */
const introspectToken: Handler = async (ctx, req) => {
  await authenticateApi(ctx, req);
  const body = parseWith(zTokenBody, await readBody(req, { allowForm: true }));
  const seen = await inspect(ctx, body.token);
  if (seen === null || seen.expired) return jsonResponse(200, { active: false });
  const out = await ctx.runQuery(internal.httpInternal.introspect, {
    kind: seen.kind,
    id: seen.id,
    tokenHash: seen.tokenHash,
  });
  return jsonResponse(200, out);
};

export const LEAK_ANSWER = {
  received: true,
  message: "Thank you. If this is a live keyhole token it has been revoked, and its owner has been told.",
};

/**
 * Anyone may report a keyhole token as leaked (no credential needed). If its
 * signature is ours and it is live it is revoked now; the answer is the same
 * either way. Rate-limited per IP.
 */
const revokeLeaked: Handler = async (ctx, req) => {
  const body = parseWith(zTokenBody, await readBody(req, { allowForm: true }));
  const seen = await inspect(ctx, body.token);
  const wait: number = await ctx.runMutation(internal.httpInternal.reportLeak, {
    token: seen && { kind: seen.kind, id: seen.id, tokenHash: seen.tokenHash },
  });
  if (wait > 0) {
    const e = tooManyFailures(wait);
    throw new HttpError(429, "rate_limited", "too many leak reports from this address: try again later", e.headers);
  }
  return jsonResponse(202, LEAK_ANSWER);
};

// --- routing ----------------------------------------------------------------------

const SEG = "([^/]+)";
const routes: Route[] = [
  { pattern: /^\/api\/whoami$/, keys: [], methods: { GET: whoami } },
  { pattern: /^\/api\/pats$/, keys: [], methods: { GET: listPats, POST: createPat } },
  { pattern: new RegExp(`^/api/pats/${SEG}$`), keys: ["name"], methods: { GET: getPat, DELETE: revokePat } },
  { pattern: /^\/api\/sessions$/, keys: [], methods: { POST: createSession, DELETE: endSession } },
  { pattern: /^\/api\/sessions\/refresh$/, keys: [], methods: { POST: refreshSession } },
  {
    pattern: new RegExp(`^/api/workspaces/${SEG}/${SEG}/items$`),
    keys: ["org", "ws"],
    methods: { GET: listItems },
  },
  {
    pattern: new RegExp(`^/api/workspaces/${SEG}/${SEG}/items/(.+)$`),
    keys: ["org", "ws", "name"],
    methods: { GET: getItem, PUT: putItem, DELETE: deleteItem },
  },
  { pattern: /^\/api\/tokens\/introspect$/, keys: [], methods: { POST: introspectToken } },
  { pattern: /^\/api\/tokens\/revoke-leaked$/, keys: [], methods: { POST: revokeLeaked } },
];

function match(pathname: string, method: string): { handler: Handler; params: Params } {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    const handler = r.methods[method];
    if (!handler) {
      throw new HttpError(405, "invalid_argument", `${method} is not allowed here`, {
        Allow: Object.keys(r.methods).join(", "),
      });
    }
    const params: Params = {};
    r.keys.forEach((k, i) => {
      // names may hold "/" (items): decode each segment, keep the slashes
      const decoded = m[i + 1].split("/").map(safeDecode);
      if (decoded.some((d) => d === null || d.length === 0)) {
        throw new HttpError(400, "invalid_argument", "the path is malformed");
      }
      params[k] = decoded.join("/");
    });
    return { handler, params };
  }
  throw new HttpError(404, "not_found", "no such API route");
}

function withHeaders(res: Response, headers: Record<string, string>): Response {
  for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
  return res;
}

export async function handleApiRequest(ctx: ActionCtx, req: Request): Promise<Response> {
  const cors = corsHeaders(req);
  try {
    const url = new URL(req.url);
    if (credentialInUrl(url)) throw TOKEN_IN_URL;
    if (req.method === "OPTIONS") return preflight(req);
    const { handler, params } = match(url.pathname, req.method);
    return withHeaders(await handler(ctx, req, params, url), cors);
  } catch (e) {
    return errorResponse(toHttpError(e, apiChallenge(e)), cors);
  }
}

const METHODS: RoutableMethod[] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/** Registers this area's routes on the site router (see convex/http.ts). */
export function registerApiRoutes(http: HttpRouter): void {
  // One catch-all under /api/ (longer prefixes such as /api/auth/ still win).
  const handler = httpAction(handleApiRequest);
  for (const method of METHODS) http.route({ pathPrefix: "/api/", method, handler });
}
