/**
 * Fixed-window rate limits in a plain table (no components here).
 * `hit` counts one event against `key` and throws `rate_limited` when the
 * window is full; `check` only reads. Keys name what they limit, e.g.
 * `token-create:<userId>`, `auth-fail:ip:<ip>`, `auth-fail:token:<id>`.
 */
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { keyholeError } from "./errors";
import { deleteBatch } from "./purge";

export type Limit = { max: number; windowMs: number };

export const LIMITS = {
  tokenCreate: { max: 20, windowMs: 60 * 60_000 },
  sessionCreate: { max: 120, windowMs: 60_000 },
  authFailPerIp: { max: 30, windowMs: 60_000 },
  authFailPerToken: { max: 10, windowMs: 60_000 },
  leakReportPerIp: { max: 10, windowMs: 60_000 },
} satisfies Record<string, Limit>;

/** Milliseconds until `key` may be used again, or 0 when it is under its limit. */
export async function retryAfterMs(ctx: QueryCtx | MutationCtx, key: string, limit: Limit): Promise<number> {
  const row = await ctx.db
    .query("rateLimits")
    .withIndex("by_key", (q) => q.eq("key", key))
    .unique();
  const now = Date.now();
  if (row === null || now - row.windowStart >= limit.windowMs || row.count < limit.max) return 0;
  return row.windowStart + limit.windowMs - now;
}

/** Counts one event; returns ms to wait when the limit was already reached (and does not count it). */
export async function consume(ctx: MutationCtx, key: string, limit: Limit): Promise<number> {
  const row = await ctx.db
    .query("rateLimits")
    .withIndex("by_key", (q) => q.eq("key", key))
    .unique();
  const now = Date.now();
  if (row === null) {
    await ctx.db.insert("rateLimits", { key, windowStart: now, count: 1 });
    return 0;
  }
  if (now - row.windowStart >= limit.windowMs) {
    await ctx.db.patch("rateLimits", row._id, { windowStart: now, count: 1 });
    return 0;
  }
  if (row.count >= limit.max) return row.windowStart + limit.windowMs - now;
  await ctx.db.patch("rateLimits", row._id, { count: row.count + 1 });
  return 0;
}

/** consume(), throwing `rate_limited` with the wait in the message and, exact, in `retryAfterMs`. */
export async function enforce(ctx: MutationCtx, key: string, limit: Limit, what: string): Promise<void> {
  const wait = await consume(ctx, key, limit);
  if (wait > 0) {
    throw keyholeError("rate_limited", `too many ${what}: try again in ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait });
  }
}

/** Deletes windows that ended long ago; returns whether more remain. */
export async function purgeStaleWindows(ctx: MutationCtx, olderThanMs: number, batch = 500): Promise<boolean> {
  const cutoff = Date.now() - olderThanMs;
  return await deleteBatch(ctx, "rateLimits", (q) => q.withIndex("by_window", (i) => i.lt("windowStart", cutoff)), batch);
}
