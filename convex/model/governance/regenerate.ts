/**
 * regenerateApiToken and updateApiToken.
 *
 * Regenerating mints a new PAT with the old one's settings (name,
 * description, type, scopes, lifetime counted from now) and gives the old
 * secret a grace period: its record's expiry moves to the end of the grace
 * (at most 7 days; default 0 = it stops now), after which it fails like any
 * expired token. So a deployment can swap secrets without downtime. The new
 * token has its own id; tokenRegenerations links the two.
 */
import { actorOf, logAudit } from "../audit";
import { keyholeError } from "../errors";
import { tokenStatus } from "../principal";
import { enforce, LIMITS } from "../rateLimit";
import {
  requireRoomForToken,
  MAX_EXPIRES_IN_S,
  MIN_EXPIRES_IN_S,
  insertSignedPat,
  ownToken,
  toTokenInfo,
  validateDescription,
  validateName,
} from "../tokens";
import { policyWarnings } from "./policy";
import type { UserMutationCtx } from "../functions";

export const MAX_GRACE_S = 7 * 24 * 3600;

function checkGrace(graceSeconds: number | undefined): number {
  if (graceSeconds === undefined) return 0;
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_S) {
    throw keyholeError("invalid_argument", `graceSeconds is in whole seconds, from 0 (the old secret stops now) to ${MAX_GRACE_S} (7 days)`);
  }
  return graceSeconds;
}

export async function regenerateToken(ctx: UserMutationCtx, args: { tokenId: string; graceSeconds?: number }) {
  const user = ctx.user;
  const old = await ownToken(ctx, user, args.tokenId);
  const grace = checkGrace(args.graceSeconds);
  const now = Date.now();
  const status = tokenStatus(old, now);
  if (status === "revoked") throw keyholeError("conflict", "this token was revoked: create a new one instead");
  const already = await ctx.db
    .query("tokenRegenerations")
    .withIndex("by_old", (q) => q.eq("oldTokenId", old._id))
    .first();
  if (already !== null) {
    throw keyholeError("conflict", `this token was already regenerated: regenerate its replacement (${already.newTokenId})`);
  }
  // An active old token is replaced one for one; an expired or revoked one needs room.
  if (status !== "active") await requireRoomForToken(ctx, user.userId, now);
  await enforce(ctx, `token-create:${user.userId}`, LIMITS.tokenCreate, "tokens created");

  const lifetimeMs = Math.min(Math.max(old.expiresAt - old.createdAt, MIN_EXPIRES_IN_S * 1000), MAX_EXPIRES_IN_S * 1000);
  const expiresAt = Math.floor((now + lifetimeMs) / 1000) * 1000;
  const { tokenId, token } = await insertSignedPat(ctx, {
    userId: user.userId,
    name: old.name,
    description: old.description,
    type: old.type,
    scopes: old.scopes,
    createdAt: now,
    expiresAt,
  });

  const graceEndsAt = status === "active" ? Math.min(old.expiresAt, now + grace * 1000) : old.expiresAt;
  if (graceEndsAt !== old.expiresAt) await ctx.db.patch("apiTokens", old._id, { expiresAt: graceEndsAt });
  await ctx.db.insert("tokenRegenerations", { userId: user.userId, oldTokenId: old._id, newTokenId: tokenId, graceEndsAt, createdAt: now });
  await logAudit(ctx, {
    userId: user.userId,
    action: "token.regenerated",
    actor: actorOf(user),
    targetType: "apiToken",
    targetId: tokenId,
    details: `name=${old.name} previous=${old._id} previousStopsAt=${new Date(graceEndsAt).toISOString()}`,
  });
  const warnings = await policyWarnings(ctx, user.userId, { scopes: old.scopes, lifetimeMs: expiresAt - now, type: old.type });
  return {
    token,
    tokenId,
    name: old.name,
    scopes: old.scopes,
    expiresAt,
    previousTokenId: old._id,
    previousExpiresAt: graceEndsAt,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

export async function updateToken(ctx: UserMutationCtx, args: { tokenId: string; name?: string; description?: string }) {
  const user = ctx.user;
  const t = await ownToken(ctx, user, args.tokenId);
  const now = Date.now();
  const patch: { name?: string; description?: string } = {};
  if (args.name !== undefined && args.name !== t.name) {
    const name = validateName(args.name);
    const clash = await ctx.db
      .query("apiTokens")
      .withIndex("by_user_name_status", (q) =>
        q.eq("userId", user.userId).eq("name", name).eq("revokedAt", undefined).gt("expiresAt", now),
      )
      .first();
    if (clash !== null && tokenStatus(t, now) === "active") {
      throw keyholeError("conflict", `you already have an active token named "${name}"`);
    }
    patch.name = name;
  }
  if (args.description !== undefined) patch.description = validateDescription(args.description);
  if (Object.keys(patch).length > 0) {
    await ctx.db.patch("apiTokens", t._id, patch);
    await logAudit(ctx, {
      userId: user.userId,
      action: "token.updated",
      actor: actorOf(user),
      targetType: "apiToken",
      targetId: t._id,
      details: `${patch.name !== undefined ? `name=${t.name}->${patch.name} ` : ""}${"description" in patch ? "description changed" : ""}`.trim(),
    });
  }
  return toTokenInfo({ ...t, ...patch }, now);
}
