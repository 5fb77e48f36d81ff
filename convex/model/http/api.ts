/**
 * The JSON HTTP API under /api/ on the site URL: the operations of table.ts
 * that have an `http` binding, routed by Hono.
 *
 * Every request: a credential in the URL → 400; OPTIONS → CORS preflight;
 * CORS headers for the dashboard on every answer. Every route: a malformed
 * path → 400, then (unless the operation is "public") `Authorization: Bearer
 * <token>` is authenticated once, by the `credential` middleware (guard.ts),
 * then the operation runs as the caller. Errors have one shape,
 * `{error: {code, message}}` (render.ts):
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
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { type ActionCtx, httpAction } from "../../_generated/server";
import { isKeyholeError } from "../errors";
import { PERMISSIONS } from "../permissions";
import { DEFAULT_SCOPES, resourceMetadataUrl, resourceUrl } from "../oauthServer/config";
import { corsHeaders, credentialInUrl, HttpError, parseWith, readBody, safeDecode, TOKEN_IN_URL } from "./common";
import { authenticate, type Authenticated } from "./guard";
import { fieldSchemas, type HttpInput, type Operation } from "./operations";
import { errorResponse, jsonResponse, preflight, toHttpError } from "./render";
import { OPERATIONS } from "./table";

type Env = { Bindings: ActionCtx; Variables: { auth: Authenticated } };

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

function apiError(req: Request, e: unknown): Response {
  return errorResponse(toHttpError(e, apiChallenge(e)), corsHeaders(req));
}

function withHeaders(res: Response, headers: Record<string, string>): Response {
  for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
  return res;
}

// --- middleware ----------------------------------------------------------------------

/** Every request: no credential in the URL, preflight answered, CORS on the answer. */
const gate: MiddlewareHandler<Env> = async (c, next) => {
  if (credentialInUrl(new URL(c.req.url))) throw TOKEN_IN_URL;
  if (c.req.method === "OPTIONS") return preflight(c.req.raw);
  await next();
  withHeaders(c.res, corsHeaders(c.req.raw));
};

/** Path parameters are percent-decoded per segment; a segment that does not decode, or is empty, is a 400. */
const wellFormedPath: MiddlewareHandler<Env> = async (c, next) => {
  const segments = c.req.path.split("/").slice(1);
  if (segments.some((s) => s === "" || safeDecode(s) === null)) {
    throw new HttpError(400, "invalid_argument", "the path is malformed");
  }
  await next();
};

/** The one credential check of the API: an OAuth token issued for /mcp is refused here (RFC 8707). */
const credential: MiddlewareHandler<Env> = async (c, next) => {
  c.set("auth", await authenticate(c.env, c.req.raw, { challenge: apiChallenge(), resource: resourceUrl("api") }));
  await next();
};

// --- operations ----------------------------------------------------------------------

/** The request body parsed with the operation's field schemas (derived from its validators). */
async function bodyOf(op: Operation, req: Request, opts: { allowForm?: boolean; strict: boolean }) {
  const shape = fieldSchemas(op);
  const schema = opts.strict ? z.strictObject(shape) : z.object(shape);
  return parseWith(schema, await readBody(req, { allowForm: opts.allowForm })) as Record<string, unknown>;
}

function serve(op: Operation & { http: NonNullable<Operation["http"]> }) {
  return async (c: Parameters<MiddlewareHandler<Env>>[0]): Promise<Response> => {
    const req = c.req.raw;
    const input: HttpInput = {
      req,
      url: new URL(req.url),
      params: c.req.param() as Record<string, string>,
      body: (opts) => bodyOf(op, req, opts),
    };
    const args = op.http.input ? await op.http.input(input) : {};
    const auth = op.access === "public" ? undefined : c.get("auth");
    const result = await op.run(
      { ctx: c.env, req, who: auth?.who ?? null, token: auth?.token ?? "", checkOrg: async () => {} },
      args as never,
    );
    return jsonResponse(op.http.status ?? 200, result);
  };
}

/**
 * Hono answers HEAD as GET; this API never did: HEAD is routed like any other
 * method no route has (405 naming the allowed ones, or 404), under a stand-in
 * method, with its own name kept for the message.
 */
const HEAD_STAND_IN = "PROPFIND";
const originalMethod = new WeakMap<Request, string>();

function buildApp(): Hono<Env> {
  // Routed on the raw path (segments decoded by wellFormedPath's rule, not before routing).
  const app = new Hono<Env>({ getPath: (req) => new URL(req.url).pathname });
  app.use("*", gate);
  const methodsByPath = new Map<string, string[]>();
  for (const op of OPERATIONS) {
    if (!op.http) continue;
    const { method, path } = op.http;
    const auth = op.access === "public" ? [] : [credential];
    app.on(method, path, wellFormedPath, ...auth, serve({ ...op, http: op.http }));
    methodsByPath.set(path, [...(methodsByPath.get(path) ?? []), method]);
  }
  // A known path with another method: 405 naming the allowed ones.
  for (const [path, methods] of methodsByPath) {
    app.all(path, (c) => {
      const method = originalMethod.get(c.req.raw) ?? c.req.method;
      throw new HttpError(405, "invalid_argument", `${method} is not allowed here`, { Allow: methods.join(", ") });
    });
  }
  app.notFound((c) => apiError(c.req.raw, new HttpError(404, "not_found", "no such API route")));
  app.onError((e, c) => apiError(c.req.raw, e));
  return app;
}

const app = buildApp();

export async function handleApiRequest(ctx: ActionCtx, req: Request): Promise<Response> {
  if (req.method !== "HEAD") return await app.fetch(req, ctx);
  const standIn = new Request(req, { method: HEAD_STAND_IN });
  originalMethod.set(standIn, req.method);
  return await app.fetch(standIn, ctx);
}

const METHODS: RoutableMethod[] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/** Registers this area's routes on the site router (see convex/http.ts). */
export function registerApiRoutes(http: HttpRouter): void {
  // One catch-all under /api/ (longer prefixes such as /api/auth/ still win), handed to Hono.
  const handler = httpAction(handleApiRequest);
  for (const method of METHODS) http.route({ pathPrefix: "/api/", method, handler });
}
