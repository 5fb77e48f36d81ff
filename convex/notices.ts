/** Dashboard notices: tokens about to expire or expired, admin revocations (model/governance/notices.ts). */
import { v } from "convex/values";
import { permissionQuery, userMutation } from "./model/functions";
import * as Notices from "./model/governance/notices";
import { vNoticeKind } from "./model/governance/validators";

/** Your notices not yet dismissed, newest first (a token needs tokens:read). */
export const list = permissionQuery({
  permission: "tokens:read",
  args: {},
  returns: v.array(
    v.object({
      _id: v.id("notices"),
      kind: vNoticeKind,
      subjectId: v.string(),
      message: v.string(),
      createdAt: v.number(),
    }),
  ),
  handler: async (ctx) => await Notices.listNotices(ctx),
});

/** Dismisses one of your notices (people only); someone else's → not_found. */
export const dismiss = userMutation({
  action: "dismiss notices",
  args: { noticeId: v.string() },
  returns: v.null(),
  handler: async (ctx, args) => await Notices.dismissNotice(ctx, args.noticeId),
});
