/**
 * Token activity at a glance: per token and UTC day, how many minutes it was
 * used and how many of its requests were refused.
 *
 * No write is added to any request. The counters ride on writes keyhole
 * already makes:
 * - `uses` goes up by one whenever the last-use record is written
 *   (principal.ts recordUse: at most once a minute per token), so a day's
 *   figure is the number of *minutes with recorded use* — a lower bound on
 *   requests. Reads through Convex queries are never recorded (a Convex query
 *   cannot write), on the embedded backend or on Convex. The day's count is a
 *   field of the token itself (`usesDay`, `usesOnDay`), set by that same
 *   write — no read, no second document; once per token and day, the first
 *   use of a new day moves the previous day's count into its row (useFields).
 *   Readers add the counts still on tokens to the rows.
 * - `refused` goes up by one whenever a refused HTTP/MCP request with a
 *   revoked or expired keyhole token is counted and audited
 *   (http/authn.ts recordFailure, which already writes for it).
 *
 * One row per (token, day); rows older than RETENTION_DAYS are purged daily.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { keyholeError } from "./errors";

export const DAY_MS = 86_400_000;
/** Days a chart shows, and days a row is kept. */
export const CHART_DAYS = 30;
export const RETENTION_DAYS = 90;
/** Rows one overview reads at most: 100 active tokens × 7 days, with room for expired ones. */
const OVERVIEW_MAX_ROWS = 2_000;
const PURGE_BATCH = 500;

/** UTC day number of a time (days since 1970-01-01). */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

async function bump(
  ctx: MutationCtx,
  row: { userId: Id<"users">; tokenId: Id<"apiTokens"> },
  field: "uses" | "refused",
  day: number,
  by: number,
): Promise<void> {
  const existing = await ctx.db
    .query("tokenActivity")
    .withIndex("by_token_day", (q) => q.eq("tokenId", row.tokenId).eq("day", day))
    .unique();
  if (existing === null) {
    await ctx.db.insert("tokenActivity", { ...row, day, uses: 0, refused: 0, [field]: by });
  } else {
    await ctx.db.patch("tokenActivity", existing._id, { [field]: existing[field] + by });
  }
}

export type UseFields = { usesDay: number; usesOnDay: number };

/**
 * Called where the last-use record is written (at most once a minute per
 * token): the counter fields to put in that same patch. On a token's first
 * use of a new day, the previous day's count moves to its row first.
 */
export async function useFields(ctx: MutationCtx, token: Doc<"apiTokens">, at: number): Promise<UseFields> {
  const day = dayOf(at);
  if (token.usesDay === day) return { usesDay: day, usesOnDay: (token.usesOnDay ?? 0) + 1 };
  if (token.usesDay !== undefined && (token.usesOnDay ?? 0) > 0) {
    await bump(ctx, { userId: token.userId, tokenId: token._id }, "uses", token.usesDay, token.usesOnDay!);
  }
  return { usesDay: day, usesOnDay: 1 };
}

/** Called where a refused request with one of our tokens is counted and audited. */
export async function countRefusal(ctx: MutationCtx, userId: Id<"users">, tokenId: Id<"apiTokens">, at: number): Promise<void> {
  await bump(ctx, { userId, tokenId }, "refused", dayOf(at), 1);
}

/** The day count still on a token, as a row (none when it has none). */
function countOnToken(t: Pick<Doc<"apiTokens">, "usesDay" | "usesOnDay">): { day: number; uses: number; refused: number }[] {
  return t.usesDay !== undefined && (t.usesOnDay ?? 0) > 0 ? [{ day: t.usesDay, uses: t.usesOnDay!, refused: 0 }] : [];
}

export const vDayCount = v.object({ day: v.number(), uses: v.number(), refused: v.number() });
export type DayCount = Infer<typeof vDayCount>;

/** `days` consecutive UTC days ending today, zeros where nothing was recorded. */
function fillDays(rows: { day: number; uses: number; refused: number }[], today: number, days: number): DayCount[] {
  const byDay = new Map<number, DayCount>();
  for (const r of rows) {
    const d = byDay.get(r.day) ?? { day: r.day, uses: 0, refused: 0 };
    d.uses += r.uses;
    d.refused += r.refused;
    byDay.set(r.day, d);
  }
  const out: DayCount[] = [];
  for (let day = today - days + 1; day <= today; day++) out.push(byDay.get(day) ?? { day, uses: 0, refused: 0 });
  return out;
}

/** One of `user`'s tokens (checked by the caller: userQuery), last CHART_DAYS days. Someone else's (or a malformed id) → not_found. */
export async function tokenActivity(ctx: QueryCtx, user: { userId: Id<"users"> }, tokenId: string): Promise<DayCount[]> {
  const id = ctx.db.normalizeId("apiTokens", tokenId);
  const token = id === null ? null : await ctx.db.get("apiTokens", id);
  if (token === null || token.userId !== user.userId) {
    throw keyholeError("not_found", `no token with id "${tokenId.slice(0, 64)}"`);
  }
  const today = dayOf(Date.now());
  const rows = await ctx.db
    .query("tokenActivity")
    .withIndex("by_token_day", (q) => q.eq("tokenId", token._id).gt("day", today - CHART_DAYS))
    .take(CHART_DAYS);
  return fillDays([...rows, ...countOnToken(token)], today, CHART_DAYS);
}

export const vOverview = v.object({
  activeTokens: v.number(),
  liveSessions: v.number(),
  /** This week = the last 7 UTC days, today included. */
  usesThisWeek: v.number(),
  refusedThisWeek: v.number(),
  days: v.array(vDayCount),
});

const ACTIVE_TOKENS_MAX = 100; // MAX_ACTIVE_TOKENS in tokens.ts
const LIVE_SESSIONS_MAX = 500;

/** `user`'s dashboard overview (checked by the caller: userQuery): active tokens, live agent sessions, this week's use and refusals. */
export async function overview(ctx: QueryCtx, user: { userId: Id<"users"> }): Promise<Infer<typeof vOverview>> {
  const now = Date.now();
  const today = dayOf(now);
  const active = await ctx.db
    .query("apiTokens")
    .withIndex("by_user_status", (q) => q.eq("userId", user.userId).eq("revokedAt", undefined).gt("expiresAt", now))
    .take(ACTIVE_TOKENS_MAX);
  const sessions = await ctx.db
    .query("agentSessions")
    .withIndex("by_user", (q) => q.eq("userId", user.userId).eq("endedAt", undefined).gt("expiresAt", now))
    .take(LIVE_SESSIONS_MAX);
  const rows = await ctx.db
    .query("tokenActivity")
    .withIndex("by_user_day", (q) => q.eq("userId", user.userId).gt("day", today - 7))
    .take(OVERVIEW_MAX_ROWS);
  // This week's counts not yet moved to rows (useFields), on any of the user's tokens.
  const onTokens = await ctx.db
    .query("apiTokens")
    .withIndex("by_user_uses_day", (q) => q.eq("userId", user.userId).gt("usesDay", today - 7))
    .take(OVERVIEW_MAX_ROWS);
  const days = fillDays([...rows, ...onTokens.flatMap(countOnToken)], today, 7);
  return {
    activeTokens: Math.min(active.length, ACTIVE_TOKENS_MAX),
    liveSessions: sessions.length,
    usesThisWeek: days.reduce((s, d) => s + d.uses, 0),
    refusedThisWeek: days.reduce((s, d) => s + d.refused, 0),
    days,
  };
}

/** Deletes a batch of rows older than RETENTION_DAYS; true when more remain. */
export async function purgeOldActivity(ctx: MutationCtx, now = Date.now()): Promise<boolean> {
  // No index starts with `day`; rows are few (tokens × days) and the purge is daily,
  // so walk by creation time, oldest first, and stop at the first young row.
  const cutoff = dayOf(now) - RETENTION_DAYS;
  const oldest = await ctx.db.query("tokenActivity").order("asc").take(PURGE_BATCH);
  let deleted = 0;
  for (const r of oldest) {
    if (r.day >= cutoff) break;
    await ctx.db.delete("tokenActivity", r._id);
    deleted++;
  }
  return deleted === PURGE_BATCH;
}
