/**
 * Emergency retirement of a signing key (keys:revokeKey): the batches that
 * revoke the PATs it signed and end the agent sessions it signed. Trust is
 * withdrawn before any batch runs (keyTrust.ts refuses every record whose
 * keyId is compromised); the batches make the records say so (lists, audit,
 * validateSession).
 */
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { revokeAsSystem } from "./tokens";

/** PATs revoked per transaction (each also schedules the end of its child sessions). */
export const KEY_REVOKE_TOKEN_BATCH = 64;
/** Agent sessions ended per transaction. */
export const KEY_REVOKE_SESSION_BATCH = 256;

/**
 * One batch of an emergency retirement: revokes live PATs signed by `keyId`
 * (audited for their owners; their child sessions end in scheduled batches)
 * and ends live agent sessions it signed. Returns the counts and where to
 * continue (null when done).
 */
export async function revokeBatchOfKey(
  ctx: MutationCtx,
  batch: { keyId: string; since: number; cursor: string | null },
  endChildren: (tokenId: Id<"apiTokens">) => Promise<void>,
): Promise<{ tokensRevoked: number; sessionsEnded: number; cursor: string | null }> {
  const { keyId, since, cursor } = batch;
  const now = Date.now();
  // `since` (when the retirement began) stays fixed, so every batch pages the same query.
  const page = await ctx.db
    .query("apiTokens")
    .withIndex("by_key_expiry", (q) => q.eq("keyId", keyId).gt("expiresAt", since))
    .paginate({ cursor, numItems: KEY_REVOKE_TOKEN_BATCH });
  let tokensRevoked = 0;
  for (const t of page.page) {
    if (t.revokedAt !== undefined) continue;
    const details = `name=${t.name}: the signing key ${keyId} was retired as compromised`;
    await revokeAsSystem(ctx, t, { now, reason: "signing key compromised", details }, endChildren);
    tokensRevoked++;
  }
  const sessions = await ctx.db
    .query("agentSessions")
    .withIndex("by_key_live", (q) => q.eq("keyId", keyId).eq("endedAt", undefined))
    .take(KEY_REVOKE_SESSION_BATCH);
  for (const s of sessions) {
    await ctx.db.patch("agentSessions", s._id, { endedAt: now, endReason: "key_compromised" });
  }
  const more = !page.isDone || sessions.length === KEY_REVOKE_SESSION_BATCH;
  return { tokensRevoked, sessionsEnded: sessions.length, cursor: more ? page.continueCursor : null };
}
