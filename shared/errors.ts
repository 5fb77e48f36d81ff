/**
 * The errors a caller may see, and the one reader of them: the backend throws
 * `keyholeError(code, message)`; the dashboard, the CLI and the HTTP layer
 * read it back with `keyholeErrorData` (docs/design.md, "Public API").
 */
import { ConvexError } from "convex/values";

export const ERROR_CODES = [
  "unauthenticated",
  "forbidden",
  "invalid_argument",
  "not_found",
  "conflict",
  "rate_limited",
  "expired",
  "revoked",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** `retryAfterMs` is set on `rate_limited` errors: how long to wait before trying again. */
export type KeyholeErrorData = { code: ErrorCode; message: string; retryAfterMs?: number };

/** A user-facing error: `ConvexError({code, message})`, data intact on every client. */
export function keyholeError(code: ErrorCode, message: string, extra: { retryAfterMs?: number } = {}) {
  const data: KeyholeErrorData = { code, message };
  if (extra.retryAfterMs !== undefined) data.retryAfterMs = extra.retryAfterMs;
  return new ConvexError<KeyholeErrorData>(data);
}

export function isKeyholeError(e: unknown): e is ConvexError<KeyholeErrorData> {
  return (
    e instanceof ConvexError &&
    typeof e.data === "object" &&
    e.data !== null &&
    typeof (e.data as { code?: unknown }).code === "string"
  );
}

/**
 * What a ConvexError carries, read defensively (clients see whatever the
 * server sent): `{code, message, retryAfterMs?}` (`code: null` when the
 * data has none, or is a bare string), `null` for anything else.
 */
export type ErrorInfo = { code: string | null; message: string; retryAfterMs?: number };

export function keyholeErrorData(e: unknown): ErrorInfo | null {
  if (!(e instanceof ConvexError)) return null;
  const data = e.data as unknown;
  if (typeof data === "string") return { code: null, message: data };
  if (typeof data !== "object" || data === null) return null;
  const d = data as { code?: unknown; message?: unknown; retryAfterMs?: unknown };
  if (typeof d.message !== "string") return null;
  const out: ErrorInfo = { code: typeof d.code === "string" ? d.code : null, message: d.message };
  if (typeof d.retryAfterMs === "number" && Number.isFinite(d.retryAfterMs)) out.retryAfterMs = d.retryAfterMs;
  return out;
}

/** Whole seconds for a Retry-After header: the error's wait rounded up, at least 1; 60 when unknown. */
export function retryAfterSeconds(data: { retryAfterMs?: number }): number {
  return data.retryAfterMs === undefined ? 60 : Math.max(1, Math.ceil(data.retryAfterMs / 1000));
}
