// Agent sessions and web sessions (devices) for their owner: thin wrappers
// over convex/model/agentSessions.ts and convex/model/webSessions.ts. The
// credential-facing functions (createSession, refreshSession, ...) are in
// convex/auth.ts, section "sessions".
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { permissionQuery, userMutation, userQuery } from "./model/functions";
import {
  endOwnSession,
  endSessionsForAgent,
  listLiveSessions,
  purgeExpiredSessions as purgeExpired,
} from "./model/agentSessions";
import {
  deleteRefreshTokens,
  listDevices as listDevicesModel,
  signOutAllExcept,
  signOutDevice as signOutDeviceModel,
  signOutOtherDevices as signOutOthersModel,
  type SignOutResult,
} from "./model/webSessions";
import { vScopeEntry } from "./validators";

// --- agent sessions ---------------------------------------------------------

/** My live agent sessions (needs `tokens:read`; a person always has it). */
export const listAgentSessions = permissionQuery({
  permission: "tokens:read",
  args: {},
  returns: v.array(
    v.object({
      _id: v.id("agentSessions"),
      agentId: v.string(),
      createdAt: v.number(),
      lastSeenAt: v.optional(v.number()),
      expiresAt: v.number(),
      parentTokenId: v.optional(v.id("apiTokens")),
      metadata: v.optional(v.any()),
      /** The session's own scope entries; [] = the creator's full role (a child is also bounded by its PAT's). */
      scopes: v.array(vScopeEntry),
    }),
  ),
  handler: async (ctx) => await listLiveSessions(ctx),
});

/** Ends one of my agent sessions (signed-in person only). */
export const endAgentSession = userMutation({
  action: "end agent sessions",
  args: { sessionId: v.string() },
  returns: v.null(),
  handler: async (ctx, { sessionId }) => {
    await endOwnSession(ctx, sessionId);
    return null;
  },
});

/** Ends every live session of one of my agents; returns how many. */
export const endAgentSessionsForAgent = userMutation({
  action: "end agent sessions",
  args: { agentId: v.string() },
  returns: v.object({ ended: v.number() }),
  handler: async (ctx, { agentId }) => ({ ended: await endSessionsForAgent(ctx, agentId) }),
});

/** Housekeeping for a cron: deletes rows of long-expired families, in batches. */
export const purgeExpiredSessions = internalMutation({
  args: {},
  returns: v.object({ deleted: v.number() }),
  handler: async (ctx) => {
    const { deleted, more } = await purgeExpired(ctx);
    if (more) await ctx.scheduler.runAfter(0, internal.sessions.purgeExpiredSessions, {});
    return { deleted };
  },
});

// --- web sessions (devices) -------------------------------------------------

/** My live sign-ins, this one marked `current`. */
export const listDevices = userQuery({
  action: "list devices",
  args: {},
  returns: v.array(
    v.object({
      _id: v.string(),
      authSessionId: v.id("authSessions"),
      userAgent: v.optional(v.string()),
      ipAddress: v.optional(v.string()),
      createdAt: v.number(),
      lastActiveAt: v.number(),
      current: v.boolean(),
    }),
  ),
  handler: async (ctx) => await listDevicesModel(ctx),
});

/** Signs out one of my sign-ins: its JWT fails on its next request. */
export const signOutDevice = userMutation({
  action: "sign out devices",
  args: { authSessionId: v.string() },
  returns: v.null(),
  handler: async (ctx, { authSessionId }) => {
    await followUp(ctx, await signOutDeviceModel(ctx, authSessionId), null);
    return null;
  },
});

/** Signs out every sign-in of mine except this one; returns how many. */
export const signOutOtherDevices = userMutation({
  action: "sign out devices",
  args: {},
  returns: v.object({ signedOut: v.number() }),
  handler: async (ctx) => {
    const result = await signOutOthersModel(ctx);
    await followUp(ctx, result, { userId: result.user.userId, keep: result.user.authSessionId });
    return { signedOut: result.signedOut };
  },
});

/** Another batch of signOutOtherDevices, for people with very many sign-ins. */
export const continueSignOut = internalMutation({
  args: { userId: v.id("users"), keep: v.union(v.id("authSessions"), v.null()) },
  returns: v.null(),
  handler: async (ctx, args) => {
    await followUp(ctx, await signOutAllExcept(ctx, args.userId, args.keep), args);
    return null;
  },
});

/** Deletes the leftover refresh tokens of a deleted sign-in. */
export const cleanupRefreshTokens = internalMutation({
  args: { authSessionId: v.id("authSessions") },
  returns: v.null(),
  handler: async (ctx, { authSessionId }) => {
    if (await deleteRefreshTokens(ctx, authSessionId)) {
      await ctx.scheduler.runAfter(0, internal.sessions.cleanupRefreshTokens, { authSessionId });
    }
    return null;
  },
});

async function followUp(
  ctx: MutationCtx,
  result: SignOutResult,
  next: { userId: Id<"users">; keep: Id<"authSessions"> | null } | null,
): Promise<void> {
  for (const authSessionId of result.pendingCleanup) {
    await ctx.scheduler.runAfter(0, internal.sessions.cleanupRefreshTokens, { authSessionId });
  }
  if (result.more && next !== null) {
    await ctx.scheduler.runAfter(0, internal.sessions.continueSignOut, next);
  }
}
