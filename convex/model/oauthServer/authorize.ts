/**
 * The authorization endpoint, `GET /oauth/authorize` (RFC 6749 §4.1.1 with
 * OAuth 2.1's rules): checks the request, stores it, and sends the browser to
 * the dashboard's consent screen (`<SITE_URL>/consent?request=<id>`), where
 * the person signs in if needed and approves or denies (consent.ts).
 *
 * Until the client and its redirect URI are known good, errors are shown as a
 * page and never redirected (RFC 6749 §4.1.2.1: an unchecked redirect is an
 * open redirector). After that, errors go back to the client's redirect URI
 * with `error`, `state` and `iss` (RFC 9207).
 *
 *   - client_id: a registered id (`khc_…`) or a metadata-document URL (fetched
 *     and cached under the SSRF guards of cimdFetch.ts);
 *   - redirect_uri: required, and exactly one of the client's;
 *   - response_type=code; PKCE code_challenge with method S256 (a missing
 *     method means plain, which is refused);
 *   - resource (RFC 8707): one of keyhole's (`<site>/mcp`, `<site>/api`);
 *     absent = the MCP endpoint;
 *   - scope: permission names; unknown values are ignored.
 */
import { internal } from "../../_generated/api";
import type { ActionCtx } from "../../_generated/server";
import { cimdUrlProblem, looksLikeCimdUrl } from "./cimd";
import {
  canonicalResource,
  issuer,
  MAX_STATE_CHARS,
  NO_STORE,
  requestedPermissions,
  resourceUrl,
} from "./config";

export type ClientView = {
  clientId: string;
  kind: "dcr" | "cimd";
  name: string;
  redirectUris: string[];
};

const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** A plain page for errors that must not be redirected (names fixed words and escaped text only). */
export function errorPage(status: number, title: string, detail: string): Response {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>keyhole: ${esc(title)}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
    `<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">` +
    `<h1>${esc(title)}</h1><p>${esc(detail)}</p><p>Go back to the app you came from and try connecting again.</p></body></html>`;
  return new Response(html, {
    status,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
      "Referrer-Policy": "no-referrer",
      ...NO_STORE,
    },
  });
}

/** The client's redirect URI with the response parameters added (its own query kept). */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  url.searchParams.set("iss", issuer());
  return url.toString();
}

function found(location: string): Response {
  return new Response(null, { status: 302, headers: { Location: location, "Referrer-Policy": "no-referrer", ...NO_STORE } });
}

/**
 * The client named by `clientId`: a registered one, or a metadata document
 * (from the cache while it is fresh, else fetched now). A string says why not.
 */
export async function resolveClient(ctx: Pick<ActionCtx, "runQuery" | "runAction">, clientId: string): Promise<ClientView | string> {
  if (clientId.length === 0) return "the request has no client_id";
  const cached = await ctx.runQuery(internal.oauthServer.clientForAuthorize, { clientId });
  if (!looksLikeCimdUrl(clientId)) return cached ?? "unknown client_id: register the client first";
  const problem = cimdUrlProblem(clientId);
  if (problem !== null) return problem;
  if (cached !== null && cached.fresh) return cached;
  const fetched = await ctx.runAction(internal.oauthServerNode.fetchClientDocument, { clientId });
  return fetched.ok ? fetched.client : `the client's metadata document was refused: ${fetched.reason}`;
}

/** Every parameter at most once (RFC 6749 §3.1); null when one repeats. */
function singleParams(url: URL): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (out.has(k)) return null;
    out.set(k, v);
  }
  return out;
}

export async function handleAuthorize(ctx: ActionCtx, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const p = singleParams(url);
  if (p === null) return errorPage(400, "Invalid request", "A parameter appears more than once.");
  const clientId = p.get("client_id") ?? "";
  const client = await resolveClient(ctx, clientId);
  if (typeof client === "string") return errorPage(400, "Unknown application", client);
  const redirectUri = p.get("redirect_uri");
  if (redirectUri === undefined || !client.redirectUris.includes(redirectUri)) {
    return errorPage(400, "Invalid redirect", "The redirect_uri is missing or is not one this application registered.");
  }
  const state = p.get("state");
  const back = (error: string, description: string) => found(redirectWith(redirectUri, { error, error_description: description, state }));
  if (state !== undefined && state.length > MAX_STATE_CHARS) return back("invalid_request", "state is too long");
  if (p.get("response_type") !== "code") return back("unsupported_response_type", "only response_type=code is supported");
  const challenge = p.get("code_challenge");
  if (challenge === undefined) return back("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256");
  if (p.get("code_challenge_method") !== "S256") return back("invalid_request", "only the S256 code_challenge_method is supported");
  if (!S256_CHALLENGE.test(challenge)) return back("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)");
  const rawResource = p.get("resource");
  const resource = rawResource === undefined ? resourceUrl("mcp") : canonicalResource(rawResource);
  if (resource === null) return back("invalid_target", "resource must be this server's /mcp or /api");
  if (p.get("prompt") === "none") return back("consent_required", "keyhole always asks the person to approve");

  const created = await ctx.runMutation(internal.oauthServer.createAuthRequest, {
    clientId: client.clientId,
    redirectUri,
    state,
    codeChallenge: challenge,
    resource,
    permissions: requestedPermissions(p.get("scope") ?? null),
  });
  if (!created.ok) return back("temporarily_unavailable", "too many authorization requests: try again later");
  const site = process.env.SITE_URL;
  if (!site) return errorPage(500, "Not configured", "SITE_URL (the dashboard) is not set on this deployment.");
  const consent = new URL(`${site.replace(/\/+$/, "")}/consent`);
  consent.searchParams.set("request", created.requestId);
  return found(consent.toString());
}

