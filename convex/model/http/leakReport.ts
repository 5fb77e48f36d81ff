/**
 * Leaked-token reports (`POST /api/tokens/revoke-leaked`, run by the internal
 * mutation httpInternal:reportLeak): the record is found and judged by
 * authn.ts's credentialRecord, the one liveness rule.
 */
import type { MutationCtx } from "../../_generated/server";
import { internal } from "../../_generated/api";
import { actorOf, logAudit } from "../audit";
import { constantTimeEqual } from "../crypto";
import type { TokenKind } from "../keys";
import { requestInfo } from "../principal";
import { consume, LIMITS } from "../rateLimit";
import { endChildSessions } from "../tokens";
import { credentialRecord } from "./authn";

/**
 * Handles a report that a keyhole token leaked. Always counted against the
 * reporter's IP (LIMITS.leakReportPerIp). When the token's signature is ours
 * (checked by the HTTP action) and its hash matches the record, a PAT is
 * revoked (reason "leaked", its child sessions end) or an agent session is
 * ended, and the owner gets an audit event. The caller learns nothing: the
 * answer is the same whether or not anything was revoked.
 */
export async function reportLeak(
  ctx: MutationCtx,
  t: { kind: TokenKind; id: string; tokenHash: string } | null,
): Promise<number> {
  const info = await requestInfo(ctx);
  const wait = await consume(ctx, `leak-report:ip:${info.ip ?? "unknown"}`, LIMITS.leakReportPerIp);
  if (wait > 0 || t === null) return wait;
  const rec = await credentialRecord(ctx, t.kind, t.id);
  if (rec === null || !constantTimeEqual(rec.doc.tokenHash, t.tokenHash)) return 0;
  const now = Date.now();
  const actor = actorOf(null);
  if (rec.kind === "pat") {
    if (rec.doc.revokedAt !== undefined) return 0;
    await ctx.db.patch("apiTokens", rec.doc._id, { revokedAt: now, revokedReason: "leaked" });
    const { ended, more } = await endChildSessions(ctx, rec.doc._id, now);
    if (more) await ctx.scheduler.runAfter(0, internal.auth.endRevokedTokenSessions, { tokenId: rec.doc._id });
    await logAudit(ctx, {
      userId: rec.doc.userId,
      action: "token.leaked",
      actor,
      targetType: "apiToken",
      targetId: rec.doc._id,
      details: `reported as leaked and revoked: name=${rec.doc.name} sessionsEnded=${ended}${more ? "+" : ""}`,
      ip: info.ip,
      userAgent: info.userAgent,
    });
    return 0;
  }
  if (rec.doc.endedAt !== undefined) return 0;
  await ctx.db.patch("agentSessions", rec.doc._id, { endedAt: now, endReason: "leaked" });
  await logAudit(ctx, {
    userId: rec.doc.userId,
    action: "session.leaked",
    actor,
    targetType: "agentSession",
    targetId: rec.doc._id,
    details: `reported as leaked and ended: agentId=${rec.doc.agentId}`,
    ip: info.ip,
    userAgent: info.userAgent,
  });
  return 0;
}
