/**
 * The authorization server's HTTP actions (registered by convex/http.ts):
 *
 *   GET  /.well-known/oauth-authorization-server          RFC 8414
 *   GET  /.well-known/oauth-protected-resource/mcp|/api   RFC 9728
 *   GET  /oauth/authorize    → the dashboard's consent screen (authorize.ts)
 *   POST /oauth/register     RFC 7591 (JSON)
 *   POST /oauth/token        authorization_code, refresh_token (form)
 *   POST /oauth/revoke       RFC 7009 (form)
 *   POST /oauth/introspect   RFC 7662 (form)
 *
 * Parsing and client authentication happen here; each decision is one
 * internal function (convex/oauthServer.ts → convex/model/oauthServer/).
 * Token, registration and error bodies never contain request values.
 */
import type { HttpRouter } from "convex/server";
import { z } from "zod";
import { internal } from "../../_generated/api";
import { type ActionCtx, httpAction } from "../../_generated/server";
import { HttpError, readBodyText } from "../http/common";
import { errorPage, handleAuthorize } from "./authorize";
import type { ClientAuth } from "./clients";
import {
  AUTHORIZE_PATH,
  INTROSPECT_PATH,
  NO_STORE,
  oauthError,
  oauthJson,
  openPreflight,
  REGISTER_PATH,
  REVOKE_PATH,
  TOKEN_PATH,
} from "./config";
import { discoveryDocuments, metadataResponse } from "./metadata";

const MAX_FORM_BYTES = 16 * 1024;

type Form = Map<string, string>;

/** A form body with every parameter at most once (RFC 6749 §3.2); an error response otherwise. */
async function readForm(req: Request): Promise<Form | Response> {
  const type = (req.headers.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    return oauthError(400, "invalid_request", "send the parameters as application/x-www-form-urlencoded");
  }
  let text: string;
  try {
    text = await readBodyText(req, MAX_FORM_BYTES);
  } catch (e) {
    return oauthError(e instanceof HttpError ? e.status : 400, "invalid_request", "the request body is too large or unreadable");
  }
  const out: Form = new Map();
  for (const [k, v] of new URLSearchParams(text)) {
    if (out.has(k)) return oauthError(400, "invalid_request", `the parameter ${k.slice(0, 40)} appears more than once`);
    out.set(k, v);
  }
  return out;
}

function decodeBasic(header: string): { id: string; secret: string } | null {
  const m = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  try {
    const raw = atob(m[1]);
    const i = raw.indexOf(":");
    if (i < 0) return null;
    // RFC 6749 §2.3.1: both parts are form-encoded before base64.
    return { id: decodeURIComponent(raw.slice(0, i).replace(/\+/g, " ")), secret: decodeURIComponent(raw.slice(i + 1).replace(/\+/g, " ")) };
  } catch {
    return null;
  }
}

const BASIC_CHALLENGE = { "WWW-Authenticate": 'Basic realm="keyhole"' };

/** The client's authentication: HTTP Basic, a form secret, or (public clients) just the client_id. */
function clientAuthOf(req: Request, form: Form): ClientAuth | Response {
  const header = req.headers.get("Authorization");
  const formId = form.get("client_id");
  if (header !== null && /^\s*Basic\s/i.test(header)) {
    const basic = decodeBasic(header);
    if (basic === null || form.has("client_secret") || (formId !== undefined && formId !== basic.id)) {
      return oauthError(401, "invalid_client", "malformed client authentication", BASIC_CHALLENGE);
    }
    return { clientId: basic.id, secret: basic.secret, method: "client_secret_basic" };
  }
  if (formId === undefined || formId.length === 0) return oauthError(401, "invalid_client", "client_id is required", BASIC_CHALLENGE);
  const secret = form.get("client_secret");
  return secret === undefined ? { clientId: formId, method: "none" } : { clientId: formId, secret, method: "client_secret_post" };
}

async function tokenEndpoint(ctx: ActionCtx, req: Request): Promise<Response> {
  const form = await readForm(req);
  if (form instanceof Response) return form;
  const client = clientAuthOf(req, form);
  if (client instanceof Response) return client;
  const grantType = form.get("grant_type");
  let result;
  if (grantType === "authorization_code") {
    const code = form.get("code");
    if (!code) return oauthError(400, "invalid_request", "code is required");
    result = await ctx.runMutation(internal.oauthServer.exchangeCode, {
      client,
      code,
      codeVerifier: form.get("code_verifier"),
      redirectUri: form.get("redirect_uri"),
      resource: form.get("resource"),
    });
  } else if (grantType === "refresh_token") {
    const refreshToken = form.get("refresh_token");
    if (!refreshToken) return oauthError(400, "invalid_request", "refresh_token is required");
    result = await ctx.runMutation(internal.oauthServer.refresh, {
      client,
      refreshToken,
      resource: form.get("resource"),
      scope: form.get("scope"),
    });
  } else {
    return oauthError(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
  }
  if (!result.ok) {
    return oauthError(result.status, result.error, result.description, result.error === "invalid_client" ? BASIC_CHALLENGE : {});
  }
  return oauthJson(200, result.tokens);
}

/** A client's request about one token (RFC 7009, RFC 7662): the client and the token, or the error answer. */
async function clientTokenRequest(req: Request): Promise<{ client: ClientAuth; token: string } | Response> {
  const form = await readForm(req);
  if (form instanceof Response) return form;
  const client = clientAuthOf(req, form);
  if (client instanceof Response) return client;
  const token = form.get("token");
  if (!token) return oauthError(400, "invalid_request", "token is required");
  return { client, token };
}

const clientAuthFailed = () => oauthError(401, "invalid_client", "client authentication failed", BASIC_CHALLENGE);

async function revokeEndpoint(ctx: ActionCtx, req: Request): Promise<Response> {
  const r = await clientTokenRequest(req);
  if (r instanceof Response) return r;
  const out = await ctx.runMutation(internal.oauthServer.revokeToken, r);
  if (!out.ok) return clientAuthFailed();
  return new Response(null, { status: 200, headers: { ...NO_STORE, "Access-Control-Allow-Origin": "*" } });
}

async function introspectEndpoint(ctx: ActionCtx, req: Request): Promise<Response> {
  const r = await clientTokenRequest(req);
  if (r instanceof Response) return r;
  const out = await ctx.runQuery(internal.oauthServer.introspectToken, r);
  if (!out.ok) return clientAuthFailed();
  return oauthJson(200, out.body);
}

const zRegistration = z.object({
  redirect_uris: z.array(z.string().max(2000)).max(20),
  client_name: z.string().max(500).optional(),
  client_uri: z.string().max(2000).optional(),
  logo_uri: z.string().max(2000).optional(),
  grant_types: z.array(z.string().max(100)).max(10).optional(),
  response_types: z.array(z.string().max(100)).max(10).optional(),
  token_endpoint_auth_method: z.string().max(100).optional(),
  scope: z.string().max(2000).optional(),
});

async function registerEndpoint(ctx: ActionCtx, req: Request): Promise<Response> {
  let body: unknown;
  try {
    body = JSON.parse(await readBodyText(req, MAX_FORM_BYTES));
  } catch {
    return oauthError(400, "invalid_client_metadata", "the body must be a JSON object of at most 16 KB");
  }
  const parsed = zRegistration.safeParse(body);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join(".") || "body";
    return oauthError(400, field.startsWith("redirect_uris") ? "invalid_redirect_uri" : "invalid_client_metadata", `invalid ${field}`);
  }
  const out = await ctx.runMutation(internal.oauthServer.register, { request: parsed.data });
  if (!out.ok) {
    const headers: Record<string, string> = out.retryAfterS !== undefined ? { "Retry-After": String(out.retryAfterS) } : {};
    const error = out.error === "invalid_client_metadata" && out.description.startsWith("redirect") ? "invalid_redirect_uri" : out.error;
    return oauthError(out.error === "rate_limited" ? 429 : 400, error, out.description, headers);
  }
  return oauthJson(201, out.client);
}

/**
 * Wraps an endpoint: an unexpected failure is a generic `server_error` (a page
 * for the browser-facing authorization endpoint), never a stack trace.
 */
function guarded(name: string, fn: (ctx: ActionCtx, req: Request) => Promise<Response>) {
  return httpAction(async (ctx, req) => {
    try {
      return await fn(ctx, req);
    } catch (e) {
      console.error(`keyhole oauth ${name}: internal error (${e instanceof Error ? e.name : typeof e})`);
      if (name === "authorize") return errorPage(500, "Something went wrong", "keyhole could not handle this request.");
      return oauthError(500, "server_error", "internal error");
    }
  });
}

/** Registers the authorization server's routes on the site router. */
export function registerOAuthServerRoutes(http: HttpRouter): void {
  const preflight = httpAction(async () => openPreflight());
  for (const [path, doc] of Object.entries(discoveryDocuments())) {
    http.route({ path, method: "GET", handler: httpAction(async () => metadataResponse(doc())) });
    http.route({ path, method: "OPTIONS", handler: preflight });
  }
  http.route({ path: AUTHORIZE_PATH, method: "GET", handler: guarded("authorize", handleAuthorize) });
  const posts: [string, string, (ctx: ActionCtx, req: Request) => Promise<Response>][] = [
    [REGISTER_PATH, "register", registerEndpoint],
    [TOKEN_PATH, "token", tokenEndpoint],
    [REVOKE_PATH, "revoke", revokeEndpoint],
    [INTROSPECT_PATH, "introspect", introspectEndpoint],
  ];
  for (const [path, name, fn] of posts) {
    http.route({ path, method: "POST", handler: guarded(name, fn) });
    http.route({ path, method: "OPTIONS", handler: preflight });
  }
}
