/**
 * The token lifecycle crons (convex/crons.ts → convex/governance.ts):
 *
 * - expiry notices: a PAT that expires within 7 days gets a dashboard notice
 *   and a `token.expiring` webhook; one that has expired (in the last 7
 *   days), a notice and `token.expired`. Once per token and kind. Tokens that
 *   live 7 days or less get no "expiring" notice (they are born expiring),
 *   and those that live a day or less no "expired" one either. A token in a
 *   regeneration grace period gets neither (it was replaced on purpose).
 * - unused tokens: in an org whose policy sets revokeUnusedAfterDays, every
 *   active PAT that reaches it and was last used (or, never used, created)
 *   longer ago than that is revoked. Last use is recorded by mutations,
 *   actions and HTTP requests; a token only ever used for Convex queries
 *   counts as unused.
 *
 * Both walk their tables a page per transaction and reschedule themselves.
 */
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx } from "../../_generated/server";
import { internal } from "../../_generated/api";
import { endChildSessions, revokeAsSystem } from "../tokens";
import { emitEvent, patData } from "./events";
import { addNotice, hasNotice } from "./notices";
import { DAY_MS } from "./policy";
import { reachesOrg } from "./reach";

export const NOTICE_WINDOW_MS = 7 * DAY_MS;
export const EXPIRY_BATCH = 50;
export const ORG_BATCH = 50;
export const MEMBER_BATCH = 10;
const PER_MEMBER = 100;

function inDays(ms: number): string {
  const d = Math.max(1, Math.round(ms / DAY_MS));
  return `${d} day${d === 1 ? "" : "s"}`;
}

async function noticeExpiry(ctx: MutationCtx, t: Doc<"apiTokens">, now: number): Promise<number> {
  if (t.revokedAt !== undefined) return 0;
  const lifetime = t.expiresAt - t.createdAt;
  const expired = t.expiresAt <= now;
  if (expired ? lifetime <= DAY_MS : lifetime <= NOTICE_WINDOW_MS) return 0;
  const kind = expired ? "token.expired" : "token.expiring";
  if (await hasNotice(ctx, t._id, kind)) return 0;
  const regenerated = await ctx.db
    .query("tokenRegenerations")
    .withIndex("by_old", (q) => q.eq("oldTokenId", t._id))
    .first();
  if (regenerated !== null) return 0;
  const when = new Date(t.expiresAt).toISOString().slice(0, 16).replace("T", " ");
  const message = expired
    ? `Your token "${t.name}" expired on ${when} UTC. Regenerate it or create a new one.`
    : `Your token "${t.name}" expires in ${inDays(t.expiresAt - now)} (${when} UTC). Regenerate it to keep it working.`;
  await addNotice(ctx, { userId: t.userId, kind, subjectId: t._id, message });
  await emitEvent(ctx, { type: kind, ownerId: t.userId, scopeSets: [t.scopes], data: patData(t) });
  return 1;
}

/** One page of the expiry scan over (from, to]; returns the cursor of the next page or null. */
export async function expiryNoticesPage(
  ctx: MutationCtx,
  args: { from: number; to: number; cursor: string | null },
): Promise<{ noticed: number; cursor: string | null }> {
  const now = Date.now();
  const page = await ctx.db
    .query("apiTokens")
    .withIndex("by_expiry", (q) => q.gt("expiresAt", args.from).lte("expiresAt", args.to))
    .paginate({ numItems: EXPIRY_BATCH, cursor: args.cursor });
  let noticed = 0;
  for (const t of page.page) noticed += await noticeExpiry(ctx, t, now);
  return { noticed, cursor: page.isDone ? null : page.continueCursor };
}

/** The window the hourly scan covers: expired in the last 7 days to expiring in the next 7. */
export function expiryWindow(now: number): { from: number; to: number } {
  return { from: now - NOTICE_WINDOW_MS, to: now + NOTICE_WINDOW_MS };
}

/** One page of orgs: schedules an unused-token sweep for each whose policy asks for one. */
export async function sweepUnusedOrgsPage(ctx: MutationCtx, cursor: string | null): Promise<string | null> {
  const page = await ctx.db.query("orgs").paginate({ numItems: ORG_BATCH, cursor });
  for (const org of page.page) {
    if (org.tokenPolicy?.revokeUnusedAfterDays !== undefined) {
      await ctx.scheduler.runAfter(0, internal.governance.sweepUnusedInOrg, { orgId: org._id, cursor: null });
    }
  }
  return page.isDone ? null : page.continueCursor;
}

async function revokeUnused(ctx: MutationCtx, org: Doc<"orgs">, t: Doc<"apiTokens">, days: number, now: number) {
  const reason = `unused for ${days} days (token policy of "${org.slug}")`;
  await revokeAsSystem(ctx, t, { now, reason, details: `name=${t.name} ${reason}` }, async (tokenId) => {
    const { more } = await endChildSessions(ctx, tokenId, now);
    if (more) await ctx.scheduler.runAfter(0, internal.auth.endRevokedTokenSessions, { tokenId });
  });
  await addNotice(ctx, {
    userId: t.userId,
    kind: "token.revoked_unused",
    subjectId: t._id,
    message: `Your token "${t.name}" was revoked: ${reason}.`,
  });
}

/** One page of an org's members: revokes their unused tokens that reach the org. */
export async function sweepUnusedInOrgPage(
  ctx: MutationCtx,
  args: { orgId: Id<"orgs">; cursor: string | null },
): Promise<{ revoked: number; cursor: string | null }> {
  const org = await ctx.db.get("orgs", args.orgId);
  const days = org?.tokenPolicy?.revokeUnusedAfterDays;
  if (org === null || days === undefined) return { revoked: 0, cursor: null };
  const now = Date.now();
  const cutoff = now - days * DAY_MS;
  const members = await ctx.db
    .query("memberships")
    .withIndex("by_org", (q) => q.eq("orgId", org._id))
    .paginate({ numItems: MEMBER_BATCH, cursor: args.cursor });
  let revoked = 0;
  for (const m of members.page) {
    const active = await ctx.db
      .query("apiTokens")
      .withIndex("by_user_status", (q) => q.eq("userId", m.userId).eq("revokedAt", undefined).gt("expiresAt", now))
      .take(PER_MEMBER);
    for (const t of active) {
      if ((t.lastUsedAt ?? t.createdAt) >= cutoff || !reachesOrg([t.scopes], org.slug)) continue;
      await revokeUnused(ctx, org, t, days, now);
      revoked++;
    }
  }
  return { revoked, cursor: members.isDone ? null : members.continueCursor };
}
