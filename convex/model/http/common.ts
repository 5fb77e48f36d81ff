/**
 * Shared plumbing for the HTTP API and the MCP endpoint: bearer extraction,
 * refusing credentials in URLs, body limits and parsing, CORS for the
 * dashboard origin. Responses and errors are rendered in render.ts.
 *
 * Nothing here logs request data: token text, URLs with query strings and
 * function arguments never reach a log line.
 */
import { z } from "zod";
import { siteUrl, TOKEN_PREFIX } from "../keys";

/** Largest request body either surface reads (bytes): an item holds up to 64 KB of JSON, plus room for the envelope. */
export const MAX_BODY_BYTES = 80 * 1024;

/** An HTTP-level failure with the status, body code and headers it answers with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Same body for unknown, malformed, expired and revoked credentials. */
export const INVALID_TOKEN_MESSAGE = "invalid or expired token";

export const SECURITY_HEADERS: Record<string, string> = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
};

// --- credentials ---------------------------------------------------------------

export type Bearer = { present: false } | { present: true; token: string | null };

/**
 * The credential of a request: only `Authorization: Bearer <token>`. A header
 * with another scheme or an empty token is "present but invalid" (token null).
 */
export function bearerOf(req: Request): Bearer {
  const header = req.headers.get("Authorization");
  if (header === null || header.trim() === "") return { present: false };
  const m = /^\s*Bearer\s+([^\s]+)\s*$/i.exec(header);
  if (!m || m[1].length > 8192) return { present: true, token: null };
  return { present: true, token: m[1] };
}

const CREDENTIAL_PARAMS = new Set([
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "api_key",
  "apikey",
  "key",
  "auth",
  "authorization",
  "bearer",
  "jwt",
  "pat",
  "session_token",
]);

/** A JWT-looking value: three base64url segments, the first a JSON header. */
const JWT_LIKE = /^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * True when the URL carries something that looks like a credential:
 * a credential-named parameter, or any value that is a keyhole token
 * (starts with TOKEN_PREFIX) or a JWT. Such requests are refused (400) before
 * anything else, and the URL is never logged.
 */
export function credentialInUrl(url: URL): boolean {
  for (const [key, value] of url.searchParams) {
    if (CREDENTIAL_PARAMS.has(key.toLowerCase())) return true;
    if (looksLikeToken(value) || looksLikeToken(key)) return true;
  }
  // Also a token pasted into the path, e.g. /api/pats/eyJ...
  return url.pathname.split("/").some((seg) => looksLikeToken(safeDecode(seg) ?? seg));
}

function looksLikeToken(s: string): boolean {
  const v = s.trim().replace(/^Bearer\s+/i, "");
  return v.includes(TOKEN_PREFIX) || JWT_LIKE.test(v);
}

export function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export const TOKEN_IN_URL = new HttpError(
  400,
  "invalid_argument",
  "credentials are not accepted in the URL: send them only in the header `Authorization: Bearer <token>` " +
    "(and treat this token as exposed: URLs end up in logs and browser history)",
);

/** WWW-Authenticate challenges (RFC 6750). */
export function challenge(params: Record<string, string> = {}): string {
  const parts = Object.entries(params).map(([k, v]) => `${k}="${v.replace(/["\\]/g, "")}"`);
  return parts.length === 0 ? `Bearer realm="keyhole"` : `Bearer realm="keyhole", ${parts.join(", ")}`;
}

export function missingCredential(extra: Record<string, string> = {}): HttpError {
  return new HttpError(
    401,
    "unauthenticated",
    "missing credential: send `Authorization: Bearer <token>`",
    { "WWW-Authenticate": challenge(extra) },
  );
}

export function invalidCredential(extra: Record<string, string> = {}): HttpError {
  return new HttpError(401, "unauthenticated", INVALID_TOKEN_MESSAGE, {
    "WWW-Authenticate": challenge({ error: "invalid_token", ...extra }),
  });
}

export function tooManyFailures(retryAfterMs: number): HttpError {
  return new HttpError(429, "rate_limited", "too many failed authentication attempts: try again later", {
    "Retry-After": String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
  });
}

// --- bodies --------------------------------------------------------------------

/** Reads at most MAX_BODY_BYTES of the body; 413 past that (declared or observed). */
export async function readBodyText(req: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = req.headers.get("Content-Length");
  if (declared !== null && Number(declared) > limit) throw bodyTooLarge(limit);
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw bodyTooLarge(limit);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw new HttpError(400, "invalid_argument", "the request body is not valid UTF-8");
  }
}

function bodyTooLarge(limit: number): HttpError {
  return new HttpError(413, "invalid_argument", `the request body is larger than ${limit / 1024} KB`);
}

/**
 * The body as an object: JSON, or `application/x-www-form-urlencoded` when
 * `allowForm` (RFC 7662/7009 style). The content type is not insisted on
 * (`curl -d` sends a form type): a body is JSON unless it is a form on a route
 * that takes forms. Only the Authorization header authenticates, so lenient
 * parsing opens no cross-site door. An empty body is `{}`.
 */
export async function readBody(req: Request, opts: { allowForm?: boolean } = {}): Promise<unknown> {
  const text = await readBodyText(req);
  const type = (req.headers.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
  const trimmed = text.trim();
  if (opts.allowForm && type === "application/x-www-form-urlencoded" && !trimmed.startsWith("{")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (trimmed === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "invalid_argument", "the request body is not valid JSON");
  }
}

/** Validates with zod; the message names fields and problems, never the values. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const msg = r.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`)
    .join("; ");
  throw new HttpError(400, "invalid_argument", `invalid request body: ${msg}`);
}

// --- origins and CORS --------------------------------------------------------------

function originOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/** The dashboard's origin (SITE_URL), the only origin CORS is granted to. */
export function dashboardOrigin(): string | null {
  return originOf(process.env.SITE_URL);
}

/** Origins a browser request may come from: the dashboard and the site itself. */
export function trustedOrigins(): Set<string> {
  const out = new Set<string>();
  const d = dashboardOrigin();
  if (d) out.add(d);
  const s = originOf(siteUrl());
  if (s) out.add(s);
  return out;
}

export const CORS_METHODS = "GET, POST, PUT, DELETE, OPTIONS";

/** CORS headers for the dashboard origin; none for any other origin. */
export function corsHeaders(req: Request, exposeExtra: string[] = []): Record<string, string> {
  const origin = req.headers.get("Origin");
  const allowed = dashboardOrigin();
  if (origin === null || allowed === null || origin !== allowed) return origin === null ? {} : { Vary: "Origin" };
  return {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Expose-Headers": ["WWW-Authenticate", "Retry-After", ...exposeExtra].join(", "),
    Vary: "Origin",
  };
}
