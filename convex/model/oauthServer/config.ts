/**
 * keyhole as the OAuth 2.1 authorization server for its own resources: the
 * MCP endpoint (`<site>/mcp`) and the HTTP API (`<site>/api`). Shared
 * constants and small pure rules (endpoints, resources, scopes, redirect
 * URIs, error bodies) for the operation files next to this one:
 *
 *   metadata.ts   RFC 8414 server metadata, RFC 9728 resource metadata
 *   clients.ts    RFC 7591 registration (de-duplicated, reaped) + client lookup
 *   cimd.ts       Client ID Metadata Documents (rules; cimdFetch.ts fetches)
 *   authorize.ts  the authorization endpoint → the dashboard's consent screen
 *   consent.ts    what the consent screen shows and decides
 *   token.ts      authorization_code and refresh_token grants
 *   revoke.ts     RFC 7009 revocation, and "disconnect" from the dashboard
 *   introspect.ts RFC 7662 introspection
 *   grants.ts     grants: audience checks, connected apps, housekeeping
 *   http.ts       the HTTP actions (thin)
 */
import { siteUrl } from "../keys";
import { isPermission, PERMISSIONS, type Permission } from "../permissions";

export const AUTHORIZE_PATH = "/oauth/authorize";
export const TOKEN_PATH = "/oauth/token";
export const REGISTER_PATH = "/oauth/register";
export const REVOKE_PATH = "/oauth/revoke";
export const INTROSPECT_PATH = "/oauth/introspect";
export const AS_METADATA_PATH = "/.well-known/oauth-authorization-server";
export const PRM_PATH = "/.well-known/oauth-protected-resource";

/** keyhole's protected resources, by the path that names them. */
export const RESOURCE_PATHS = { mcp: "/mcp", api: "/api" } as const;
export type ResourceName = keyof typeof RESOURCE_PATHS;

/** The authorization server's issuer identifier: the site origin itself. */
export function issuer(): string {
  return siteUrl();
}

export function endpoint(path: string): string {
  return `${siteUrl()}${path}`;
}

/** The RFC 8707 resource indicator of one of keyhole's resources. */
export function resourceUrl(name: ResourceName): string {
  return `${siteUrl()}${RESOURCE_PATHS[name]}`;
}

/** Where a resource's RFC 9728 metadata lives (path-suffixed well-known URL). */
export function resourceMetadataUrl(name: ResourceName): string {
  return `${siteUrl()}${PRM_PATH}${RESOURCE_PATHS[name]}`;
}

/** The canonical indicator when `value` names one of our resources (one trailing "/" tolerated), else null. */
export function canonicalResource(value: string): string | null {
  const v = value.endsWith("/") ? value.slice(0, -1) : value;
  for (const name of Object.keys(RESOURCE_PATHS) as ResourceName[]) {
    if (v === resourceUrl(name)) return resourceUrl(name);
  }
  return null;
}

/** OAuth scope values are keyhole's permission names. */
export const SCOPES_SUPPORTED: readonly Permission[] = PERMISSIONS;

/** What an MCP client is asked for when it names nothing we know: what the tools need (not connections:use). */
export const DEFAULT_SCOPES: readonly Permission[] = ["workspace:read", "work:read", "work:write"];

/**
 * The permissions a `scope` parameter asks for, known ones only, in catalog
 * order. Unknown values (`openid`, `offline_access`, …) are ignored, as
 * RFC 6749 §3.3 allows; nothing known → the defaults.
 */
export function requestedPermissions(scope: string | null): Permission[] {
  const asked = new Set((scope ?? "").split(" ").filter((s) => s.length > 0 && s.length <= 64));
  const known = PERMISSIONS.filter((p) => asked.has(p));
  return known.length > 0 ? known : [...DEFAULT_SCOPES];
}

/** Parses a scope parameter strictly: every value must be a permission (null = unknown value present). */
export function strictPermissions(scope: string): Permission[] | null {
  const out: Permission[] = [];
  for (const s of scope.split(" ").filter((x) => x.length > 0)) {
    if (!isPermission(s)) return null;
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

export const AUTH_REQUEST_TTL_MS = 10 * 60_000;
export const CODE_TTL_MS = 2 * 60_000;
/** Access tokens (agent session tokens) live an hour; refresh tokens until the family's absolute lifetime. */
export const ACCESS_TTL_S = 3600;
/**
 * A refresh token that was just rotated may be presented again for this long
 * (clients refresh concurrently): it gets a sibling pair instead of being
 * treated as stolen. After it, reuse revokes the whole grant.
 */
export const REFRESH_GRACE_MS = 30_000;
/** Live sessions a grant may have at once (the grace window's siblings). */
export const MAX_LIVE_PER_GRANT = 4;
/** An unused registration is reaped after a day; one in use, a day after its last grant can have ended. */
export const UNUSED_CLIENT_TTL_MS = 24 * 3600_000;
export const MAX_STATE_CHARS = 1024;
export const MAX_REDIRECT_URIS = 10;
export const MAX_URI_CHARS = 2000;

// --- redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7, OAuth 2.1 §2.3) -------------

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Local development: keyhole's own site is on this machine (the embedded backend). */
export function isLocalDevelopment(): boolean {
  try {
    return isLoopbackHost(new URL(siteUrl()).hostname);
  } catch {
    return false;
  }
}

/** Schemes a redirect must never use, whatever the client says. */
const FORBIDDEN_SCHEMES = new Set(["javascript:", "data:", "vbscript:", "file:", "blob:", "about:", "ftp:", "ws:", "wss:", "filesystem:"]);

/**
 * Why `uri` may not be a redirect URI, or null when it may: https; http only
 * to a loopback host (native apps, RFC 8252 §7.3); or a private-use scheme of
 * a native app (`cursor://…`, `com.example.app:/cb`, RFC 8252 §7.1). Never a
 * fragment or user info.
 */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length === 0 || uri.length > MAX_URI_CHARS) return "must be 1-2000 characters";
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return "is not an absolute URL";
  }
  if (uri.includes("#")) return "must not contain a fragment";
  if (u.username || u.password) return "must not contain user info";
  if (u.protocol === "https:") return null;
  if (u.protocol === "http:") return isLoopbackHost(u.hostname) ? null : "http is allowed only for loopback (localhost, 127.0.0.1, [::1])";
  if (FORBIDDEN_SCHEMES.has(u.protocol)) return `the ${u.protocol} scheme is not allowed`;
  return /^[a-z][a-z0-9+.-]*:$/.test(u.protocol) ? null : "has an invalid scheme";
}

// --- responses ---------------------------------------------------------------------

/** Headers every OAuth endpoint answers with (tokens must never be cached: RFC 6749 §5.1). */
export const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache", "X-Content-Type-Options": "nosniff" };

/**
 * Endpoints a browser-based client (the MCP Inspector) calls directly: no
 * ambient credentials are involved (no cookies), so any origin may read them.
 */
export const OPEN_CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers": "WWW-Authenticate",
};

export function oauthJson(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...NO_STORE, ...OPEN_CORS, ...headers },
  });
}

/** An RFC 6749 §5.2 error body (descriptions are fixed words: never echo a secret). */
export function oauthError(status: number, error: string, description: string, headers: Record<string, string> = {}): Response {
  return oauthJson(status, { error, error_description: description }, headers);
}

/** Answers a CORS preflight for the open endpoints. */
export function openPreflight(): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...OPEN_CORS,
      "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
      "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, MCP-Protocol-Version",
      "Access-Control-Max-Age": "600",
    },
  });
}

/**
 * A client's name as the consent screen shows it: without control, format
 * (bidi overrides, zero-width) or line-separator characters, which could
 * disguise it or reverse the text around it; trimmed to `max`. "" = nothing visible.
 */
export function displayName(raw: string, max = 100): string {
  return raw.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, "").trim().slice(0, max).trim();
}

/** A name that fits an agent id (`oauth:<name>`): the client's name, reduced to the allowed characters. */
export function agentIdFor(clientName: string): string {
  const slug = clientName.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 48);
  return `oauth:${slug || "app"}`;
}
