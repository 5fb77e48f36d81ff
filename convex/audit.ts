import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { internalMutation, query } from "./_generated/server";
import { listAuditEvents, logAudit } from "./model/audit";
import { auditEventFields } from "./validators";

const vAuditEvent = v.object({ _id: v.id("auditEvents"), ...auditEventFields, at: v.number() });

/** The caller's own audit log, newest first (a token needs tokens:read). */
export const list = query({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vAuditEvent),
  handler: async (ctx, args) => await listAuditEvents(ctx, args.paginationOpts),
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
