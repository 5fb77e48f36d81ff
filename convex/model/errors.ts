import { ConvexError } from "convex/values";

/** The error codes a caller may see (docs/design.md, "Public API"). */
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

export type KeyholeErrorData = { code: ErrorCode; message: string };

/** A user-facing error: `ConvexError({code, message})`, data intact on every client. */
export function keyholeError(code: ErrorCode, message: string) {
  return new ConvexError<KeyholeErrorData>({ code, message });
}

export function isKeyholeError(e: unknown): e is ConvexError<KeyholeErrorData> {
  return (
    e instanceof ConvexError &&
    typeof e.data === "object" &&
    e.data !== null &&
    typeof (e.data as { code?: unknown }).code === "string"
  );
}

