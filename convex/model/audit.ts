/** Audit events: who did what to which credential, from where. Never secrets. */
import type { Infer } from "convex/values";
import type { Id } from "../_generated/dataModel";
import type { PaginationOptions } from "convex/server";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { authorize } from "./authorize";
import { webhookFromAudit } from "./governance/events";
import { readPage } from "./pagination";
import type { Principal } from "./principal";
import { requestInfo } from "./principal";
import type { vActorKind } from "../validators";

export type AuditActor = { kind: Infer<typeof vActorKind>; id?: string };

export function actorOf(p: Principal | null): AuditActor {
  if (p === null) return { kind: "anonymous" };
  switch (p.kind) {
    case "user":
      return { kind: "user", id: p.userId };
    case "pat":
      return { kind: "pat", id: p.tokenId };
    case "agent":
      return { kind: "agent", id: p.sessionId };
  }
}

export async function logAudit(
  ctx: MutationCtx,
  event: {
    userId: Id<"users">;
    action: string;
    actor: AuditActor;
    targetType?: string;
    targetId?: string;
    details?: string;
    ip?: string;
    userAgent?: string;
  },
): Promise<void> {
  const info = event.ip || event.userAgent ? { ip: event.ip, userAgent: event.userAgent } : await requestInfo(ctx);
  await ctx.db.insert("auditEvents", {
    userId: event.userId,
    action: event.action,
    actorKind: event.actor.kind,
    actorId: event.actor.id,
    targetType: event.targetType,
    targetId: event.targetId,
    details: event.details?.slice(0, 512),
    ip: info.ip,
    userAgent: info.userAgent,
    at: Date.now(),
  });
  // governance: revocations, leak reports and refresh reuse are also webhook events
  await webhookFromAudit(ctx, event);
}

export const MAX_AUDIT_PAGE = 100;

/** A page of the caller's own audit log, newest first (a token needs tokens:read). */
export async function listAuditEvents(ctx: QueryCtx, paginationOpts: PaginationOptions) {
  const p = await authorize(ctx, "tokens:read");
  const result = await readPage(paginationOpts, MAX_AUDIT_PAGE, (opts) =>
    ctx.db
      .query("auditEvents")
      .withIndex("by_user_at", (q) => q.eq("userId", p.userId))
      .order("desc")
      .paginate(opts),
  );
  return {
    ...result,
    // everything but whose log it is and the system creation time
    page: result.page.map(({ userId: _userId, _creationTime: _created, ...event }) => event),
  };
}
