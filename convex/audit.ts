import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { internalMutation, query } from "./_generated/server";
import { logAudit } from "./model/audit";
import { authorize } from "./model/authorize";
import { withCursor } from "./model/errors";
import { auditEventFields } from "./validators";

const vAuditEvent = v.object({ _id: v.id("auditEvents"), ...auditEventFields, at: v.number() });

export const MAX_AUDIT_PAGE = 100;

/** The caller's own audit log, newest first (a token needs tokens:read). */
export const list = query({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vAuditEvent),
  handler: async (ctx, args) => {
    const p = await authorize(ctx, "tokens:read");
    const numItems = Math.max(1, Math.min(Math.floor(args.paginationOpts.numItems) || 1, MAX_AUDIT_PAGE));
    const result = await withCursor(args.paginationOpts.cursor, () =>
      ctx.db
        .query("auditEvents")
        .withIndex("by_user_at", (q) => q.eq("userId", p.userId))
        .order("desc")
        .paginate({ ...args.paginationOpts, numItems }),
    );
    return {
      ...result,
      // everything but whose log it is and the system creation time
      page: result.page.map(({ userId: _userId, _creationTime: _created, ...event }) => event),
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
  args: { userId: v.id("users"), ...auditEventFields },
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
