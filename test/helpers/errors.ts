// Reading the keyhole error (ConvexError({code, message})) a call fails with.
import { ConvexError } from "convex/values";
import { expect } from "vitest";

/** The error code a call fails with, or "ok" when it succeeds; other errors are rethrown. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConvexError && typeof e.data === "object" && e.data !== null && "code" in e.data) {
      return String((e.data as { code: unknown }).code);
    }
    throw e;
  }
  return "ok";
}

/**
 * The keyhole error code of a call ("ok" when it succeeds); "unauthenticated-jwt"
 * when the backend refused the JWT itself, before any keyhole code ran.
 */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    return await codeOf(p);
  } catch (e) {
    if (/Unauthenticated/.test(String(e))) return "unauthenticated-jwt";
    throw e;
  }
}

/** The message of a keyhole error (throws when the call succeeds). */
export async function messageOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConvexError) return String((e.data as { message?: unknown }).message);
    throw e;
  }
  throw new Error("expected the call to fail");
}

/** The `{code, message}` of a ConvexError thrown by `p`. */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConvexError);
    return (e as ConvexError<{ code: string; message: string }>).data;
  }
  throw new Error("expected an error, got a result");
}
