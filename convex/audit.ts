import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { internalMutation } from "./_generated/server";
import { permissionQuery } from "./model/functions";
import { logAudit } from "./model/audit";
import { listAuditLog, vAuditEntry, vAuditFilter } from "./model/auditLog";
import { auditEventFields } from "./validators";

/**
 * The caller's own audit log, newest first (a person, or a token with
 * tokens:read), with names for ids; optional filters by event type, token,
 * actor kind and date range (`from` ≤ at < `to`).
 */
export const list = permissionQuery({
  permission: "tokens:read",
  args: { paginationOpts: paginationOptsValidator, ...vAuditFilter },
  returns: paginationResultValidator(vAuditEntry),
  handler: async (ctx, { paginationOpts, ...filter }) => await listAuditLog(ctx, paginationOpts, filter),
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
