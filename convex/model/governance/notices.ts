/**
 * Dashboard notices: a token expires within 7 days, a token has expired, an
 * org admin revoked a token, a token was revoked for sitting unused. One
 * notice per (credential, kind); the person dismisses it.
 */
import type { Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { keyholeError } from "../errors";
import type { NoticeKind } from "./validators";
import type { PrincipalQueryCtx, UserMutationCtx } from "../functions";

export const NOTICES_LISTED = 50;

/** Adds a notice unless this credential already has one of this kind; returns whether it did. */
export async function addNotice(
  ctx: MutationCtx,
  n: { userId: Id<"users">; kind: NoticeKind; subjectId: string; message: string },
): Promise<boolean> {
  const existing = await ctx.db
    .query("notices")
    .withIndex("by_subject_kind", (q) => q.eq("subjectId", n.subjectId).eq("kind", n.kind))
    .first();
  if (existing !== null) return false;
  await ctx.db.insert("notices", { ...n, message: n.message.slice(0, 300), createdAt: Date.now() });
  return true;
}

export async function hasNotice(ctx: QueryCtx, subjectId: string, kind: NoticeKind): Promise<boolean> {
  const existing = await ctx.db
    .query("notices")
    .withIndex("by_subject_kind", (q) => q.eq("subjectId", subjectId).eq("kind", kind))
    .first();
  return existing !== null;
}

/** The caller's notices not yet dismissed, newest first (a token needs tokens:read). */
export async function listNotices(ctx: PrincipalQueryCtx) {
  const p = ctx.principal;
  const rows = await ctx.db
    .query("notices")
    .withIndex("by_user", (q) => q.eq("userId", p.userId).eq("dismissedAt", undefined))
    .order("desc")
    .take(NOTICES_LISTED);
  return rows.map((n) => ({ _id: n._id, kind: n.kind, subjectId: n.subjectId, message: n.message, createdAt: n.createdAt }));
}

export async function dismissNotice(ctx: UserMutationCtx, noticeId: string) {
  const user = ctx.user;
  const id = ctx.db.normalizeId("notices", noticeId);
  const n = id === null ? null : await ctx.db.get("notices", id);
  if (n === null || n.userId !== user.userId) throw keyholeError("not_found", "no such notice");
  if (n.dismissedAt === undefined) await ctx.db.patch("notices", n._id, { dismissedAt: Date.now() });
  return null;
}
