/** Audit events: who did what to which credential, from where. Never secrets. */
import type { Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { canonicalAction } from "./auditNames";
import { webhookFromAudit } from "./governance/events";
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
  // The PAT an event is about, or was made with: the audit log's token filter.
  const tokenId = event.targetType === "apiToken" ? event.targetId : event.actor.kind === "pat" ? event.actor.id : undefined;
  await ctx.db.insert("auditEvents", {
    userId: event.userId,
    action: canonicalAction(event.action),
    tokenId,
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

/** An event an agent session did itself (refresh, end, replay): in its owner's log, the session row as actor. */
export async function logSessionAudit(
  ctx: MutationCtx,
  session: Pick<Doc<"agentSessions">, "_id" | "userId">,
  event: { action: string; targetType: string; targetId: string; details: string },
): Promise<void> {
  await logAudit(ctx, { userId: session.userId, actor: { kind: "agent", id: session._id }, ...event });
}
