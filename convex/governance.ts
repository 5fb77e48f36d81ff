/** Internal: the token lifecycle crons (model/governance/lifecycle.ts). */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation } from "./_generated/server";
import { lowercaseAccountsPage } from "./model/governance/email";
import * as Lifecycle from "./model/governance/lifecycle";

/** Expiry notices and token.expiring / token.expired webhooks, a page at a time (hourly). */
export const expiryNotices = internalMutation({
  args: { from: v.optional(v.number()), to: v.optional(v.number()), cursor: v.optional(v.union(v.string(), v.null())) },
  returns: v.null(),
  handler: async (ctx, args) => {
    const window = args.from !== undefined && args.to !== undefined ? { from: args.from, to: args.to } : Lifecycle.expiryWindow(Date.now());
    const { cursor } = await Lifecycle.expiryNoticesPage(ctx, { ...window, cursor: args.cursor ?? null });
    if (cursor !== null) await ctx.scheduler.runAfter(0, internal.governance.expiryNotices, { ...window, cursor });
    return null;
  },
});

/** Daily: schedules an unused-token sweep for every org whose policy sets revokeUnusedAfterDays. */
export const sweepUnused = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())) },
  returns: v.null(),
  handler: async (ctx, args) => {
    const cursor = await Lifecycle.sweepUnusedOrgsPage(ctx, args.cursor ?? null);
    if (cursor !== null) await ctx.scheduler.runAfter(0, internal.governance.sweepUnused, { cursor });
    return null;
  },
});

/** Revokes one org's unused tokens, a page of members at a time. */
export const sweepUnusedInOrg = internalMutation({
  args: { orgId: v.id("orgs"), cursor: v.union(v.string(), v.null()) },
  returns: v.null(),
  handler: async (ctx, args) => {
    const { cursor } = await Lifecycle.sweepUnusedInOrgPage(ctx, args);
    if (cursor !== null) await ctx.scheduler.runAfter(0, internal.governance.sweepUnusedInOrg, { orgId: args.orgId, cursor });
    return null;
  },
});

/**
 * One-off migration for deployments with accounts created before e-mail
 * addresses were lowercased: `npx convex run governance:lowercaseAccountEmails '{}'`.
 * Runs page by page; accounts that would collide are listed in the log, not changed.
 */
export const lowercaseAccountEmails = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())) },
  returns: v.object({ changed: v.number(), collisions: v.array(v.string()) }),
  handler: async (ctx, args) => {
    const { changed, collisions, cursor } = await lowercaseAccountsPage(ctx, args.cursor ?? null);
    if (collisions.length > 0) console.warn(`accounts differing only in case, left unchanged: ${collisions.join(", ")}`);
    if (cursor !== null) await ctx.scheduler.runAfter(0, internal.governance.lowercaseAccountEmails, { cursor });
    return { changed, collisions };
  },
});

