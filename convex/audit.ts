import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { internalMutation, query } from "./_generated/server";
import { logAudit } from "./model/audit";
import { authorize } from "./model/authorize";

const vActorKind = v.union(
  v.literal("user"),
  v.literal("pat"),
  v.literal("agent"),
  v.literal("anonymous"),
  v.literal("system"),
);

const vAuditEvent = v.object({
  _id: v.id("auditEvents"),
  action: v.string(),
  actorKind: vActorKind,
  actorId: v.optional(v.string()),
  targetType: v.optional(v.string()),
  targetId: v.optional(v.string()),
  ip: v.optional(v.string()),
  userAgent: v.optional(v.string()),
  details: v.optional(v.string()),
  at: v.number(),
});

export const MAX_AUDIT_PAGE = 100;

/** The caller's own audit log, newest first (a token needs tokens:read). */
export const list = query({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vAuditEvent),
  handler: async (ctx, args) => {
    const p = await authorize(ctx, "tokens:read");
    const numItems = Math.max(1, Math.min(Math.floor(args.paginationOpts.numItems) || 1, MAX_AUDIT_PAGE));
    const result = await ctx.db
      .query("auditEvents")
      .withIndex("by_user_at", (q) => q.eq("userId", p.userId))
      .order("desc")
      .paginate({ ...args.paginationOpts, numItems });
    return {
      ...result,
      page: result.page.map((e) => ({
        _id: e._id,
        action: e.action,
        actorKind: e.actorKind,
        actorId: e.actorId,
        targetType: e.targetType,
        targetId: e.targetId,
        ip: e.ip,
        userAgent: e.userAgent,
        details: e.details,
        at: e.at,
      })),
    };
  },
});

/**
 * Records an event in `userId`'s log. For the HTTP layer and other trusted
 * server code: events about a failed request (auth failure, permission
 * denied, use after revoke/expiry) can't be written by the mutation that
 * failed, since its writes roll back. Never pass secrets in any field.
 */
export const record = internalMutation({
  args: {
    userId: v.id("users"),
    action: v.string(),
    actorKind: vActorKind,
    actorId: v.optional(v.string()),
    targetType: v.optional(v.string()),
    targetId: v.optional(v.string()),
    ip: v.optional(v.string()),
    userAgent: v.optional(v.string()),
    details: v.optional(v.string()),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    await logAudit(ctx, {
      userId: args.userId,
      action: args.action.slice(0, 64),
      actor: { kind: args.actorKind, id: args.actorId },
      targetType: args.targetType,
      targetId: args.targetId,
      details: args.details,
      ip: args.ip,
      userAgent: args.userAgent?.slice(0, 256),
    });
    return null;
  },
});
