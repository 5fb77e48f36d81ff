/**
 * What a person sees of their OAuth connections (listOAuthConnections):
 * status, the latest completeOAuth attempt, never a secret field.
 */
import { v, type Infer } from "convex/values";
import type { Doc } from "../../_generated/dataModel";
import type { PrincipalQueryCtx } from "../functions";

/** Public shape of a connection: no secret fields, ever. */
export const vConnectionInfo = v.object({
  _id: v.id("oauthConnections"),
  provider: v.string(),
  accountId: v.union(v.string(), v.null()),
  accountLogin: v.union(v.string(), v.null()),
  scopes: v.array(v.string()),
  /** pending / failed: created by completeOAuth, no token yet (see `attempt`). */
  status: v.union(
    v.literal("active"),
    v.literal("expired"),
    v.literal("needs_reconnect"),
    v.literal("pending"),
    v.literal("failed"),
  ),
  /** The latest completeOAuth while it runs, or when it failed (then `error`); null once one succeeded. */
  attempt: v.union(
    v.null(),
    v.object({
      status: v.union(v.literal("pending"), v.literal("failed")),
      at: v.number(),
      error: v.union(v.null(), v.object({ code: v.string(), reason: v.string(), message: v.string() })),
    }),
  ),
  expiresAt: v.union(v.number(), v.null()),
  canRefresh: v.boolean(),
  createdAt: v.number(),
  updatedAt: v.number(),
  lastUsedAt: v.union(v.number(), v.null()),
  lastRefreshedAt: v.union(v.number(), v.null()),
});
export type ConnectionInfo = Infer<typeof vConnectionInfo>;

/** A row completeOAuth created whose exchange has not (yet) stored a token. */
export function hasTokens(row: Doc<"oauthConnections">): boolean {
  return row.accessToken !== "";
}

function statusOf(row: Doc<"oauthConnections">, now: number): ConnectionInfo["status"] {
  if (!hasTokens(row)) return row.attempt?.status ?? "pending";
  if (row.needsReconnect) return "needs_reconnect";
  if (row.expiresAt !== undefined && row.expiresAt <= now && row.refreshToken === undefined) return "expired";
  return "active";
}

/** The caller's connections (`connections:read`), without a single secret field. */
export async function listConnections(ctx: PrincipalQueryCtx): Promise<ConnectionInfo[]> {
  const p = ctx.principal;
  const rows = await ctx.db
    .query("oauthConnections")
    .withIndex("by_user_provider", (q) => q.eq("userId", p.userId))
    .take(50);
  const now = Date.now();
  return rows.map((r) => ({
    _id: r._id,
    provider: r.provider,
    accountId: r.accountId ?? null,
    accountLogin: r.accountLogin ?? null,
    scopes: r.scopes,
    status: statusOf(r, now),
    attempt: r.attempt ? { status: r.attempt.status, at: r.attempt.at, error: r.attempt.error ?? null } : null,
    expiresAt: r.expiresAt ?? null,
    canRefresh: r.refreshToken !== undefined && !r.needsReconnect,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    lastUsedAt: r.lastUsedAt ?? null,
    lastRefreshedAt: r.lastRefreshedAt ?? null,
  }));
}

