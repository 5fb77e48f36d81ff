/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
 * MCP 2025-11-25 "Client Registration"): a client_id that is an https URL
 * names a JSON document with the client's metadata. The rules here are pure;
 * cimdFetch.ts (a Node action) fetches the document with the network guards.
 *
 * The URL: https, a path other than "/", no fragment, no user info, no dot
 * segments. The document: `client_id` equal to the URL (simple string
 * comparison), `redirect_uris` that pass the same rules as registration, no
 * shared secret (`client_secret*`, `client_secret_*` auth methods).
 */
import ipaddr from "ipaddr.js";
import { displayName, MAX_REDIRECT_URIS, MAX_URI_CHARS, redirectUriProblem } from "./config";

/** Largest document read (the draft suggests 5 KB). */
export const CIMD_MAX_BYTES = 5 * 1024;
/** The whole fetch (DNS + connect + body) gives up after this. */
export const CIMD_TIMEOUT_MS = 5_000;
/** Cache lifetime bounds for a fetched document (HTTP Cache-Control max-age, clamped). */
export const CIMD_CACHE_MIN_S = 60;
export const CIMD_CACHE_MAX_S = 24 * 3600;
export const CIMD_CACHE_DEFAULT_S = 3600;

/** True when `clientId` is meant as a metadata-document URL (then it must pass cimdUrlProblem). */
export function looksLikeCimdUrl(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

/** Why `clientId` cannot be a metadata-document URL, or null when it can. */
export function cimdUrlProblem(clientId: string): string | null {
  if (clientId.length > MAX_URI_CHARS) return "the client_id URL is too long";
  let u: URL;
  try {
    u = new URL(clientId);
  } catch {
    return "the client_id is not a valid URL";
  }
  if (u.protocol !== "https:") return "a client_id URL must use https";
  if (u.pathname === "/" || u.pathname === "") return "a client_id URL must have a path";
  if (clientId.includes("#")) return "a client_id URL must not have a fragment";
  if (u.username || u.password) return "a client_id URL must not contain user info";
  const rawPath = clientId.slice(clientId.indexOf("/", "https://".length));
  if (rawPath.split(/[?]/)[0].split("/").some((seg) => seg === "." || seg === "..")) {
    return "a client_id URL must not contain . or .. segments";
  }
  return null;
}

/**
 * Whether a resolved address may be connected to: public unicast only, or
 * loopback when `allowLoopback` (local development). Private, link-local
 * (169.254.169.254), carrier-grade NAT, unique-local, multicast, reserved,
 * unspecified, IPv4-mapped/IPv4-compatible/NAT64/6to4/Teredo forms of those — all refused.
 */
export function addressAllowed(address: string, allowLoopback: boolean): boolean {
  if (!ipaddr.isValid(address)) return false;
  const ip = ipaddr.process(address);
  const range = ip.range();
  // IPv4-compatible IPv6 (::a.b.c.d, deprecated by RFC 4291): ipaddr.js calls it unicast; never a public client's host.
  const v4Compatible = ip.kind() === "ipv6" && (ip as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0);
  return (range === "unicast" && !v4Compatible) || (allowLoopback && range === "loopback");
}

export type CimdClient = {
  clientId: string;
  name: string;
  redirectUris: string[];
  clientUri?: string;
  logoUri?: string;
  grantTypes: string[];
  scope?: string;
};

function httpsUrlOrUndefined(v: unknown): string | undefined {
  if (typeof v !== "string" || v.length > MAX_URI_CHARS) return undefined;
  try {
    return new URL(v).protocol === "https:" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Validates a fetched document for `clientId`; a reason string when it is refused. */
export function parseCimdDocument(clientId: string, body: string): CimdClient | string {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return "the client metadata document is not JSON";
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "the client metadata document is not a JSON object";
  const d = doc as Record<string, unknown>;
  if (d.client_id !== clientId) return "the document's client_id does not equal its URL";
  if ("client_secret" in d || "client_secret_expires_at" in d) return "a client metadata document must not contain a client secret";
  const method = d.token_endpoint_auth_method ?? "none";
  if (method !== "none") return `token_endpoint_auth_method ${String(method).slice(0, 40)} is not supported for metadata documents (use none)`;
  const uris = d.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > MAX_REDIRECT_URIS) {
    return `redirect_uris must list 1-${MAX_REDIRECT_URIS} URIs`;
  }
  for (const uri of uris) {
    const problem = typeof uri === "string" ? redirectUriProblem(uri) : "is not a string";
    if (problem !== null) return `redirect URI ${typeof uri === "string" ? uri.slice(0, 100) : ""} ${problem}`;
  }
  const grantTypes = Array.isArray(d.grant_types) ? d.grant_types.filter((g): g is string => typeof g === "string") : ["authorization_code"];
  const name = (typeof d.client_name === "string" ? displayName(d.client_name) : "") || new URL(clientId).host;
  return {
    clientId,
    name,
    redirectUris: uris as string[],
    clientUri: httpsUrlOrUndefined(d.client_uri),
    logoUri: httpsUrlOrUndefined(d.logo_uri),
    grantTypes: grantTypes.slice(0, 5),
    scope: typeof d.scope === "string" ? d.scope.slice(0, 1000) : undefined,
  };
}

/** How long to cache a document, from its Cache-Control header (clamped). */
export function cacheSeconds(cacheControl: string | null): number {
  if (cacheControl === null) return CIMD_CACHE_DEFAULT_S;
  if (/\bno-(store|cache)\b/i.test(cacheControl)) return CIMD_CACHE_MIN_S;
  const m = /\bmax-age=(\d{1,9})\b/i.exec(cacheControl);
  if (!m) return CIMD_CACHE_DEFAULT_S;
  return Math.min(CIMD_CACHE_MAX_S, Math.max(CIMD_CACHE_MIN_S, Number(m[1])));
}
