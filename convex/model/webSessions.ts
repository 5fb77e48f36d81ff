/**
 * Web sessions: every sign-in through @convex-dev/auth is an `authSessions`
 * row; `webSessions` adds the device facts (IP, user agent) for it. The
 * device list reads the sign-ins themselves, so a sign-in that never recorded
 * its device still shows up and can be signed out.
 *
 * Signing out deletes the authSessions row (and its refresh tokens), which is
 * what principal.ts checks on every request: the signed-out JWT fails on the
 * next call, not when its hour runs out. Timeouts are @convex-dev/auth's:
 * AUTH_SESSION_TOTAL_DURATION_MS (absolute) and
 * AUTH_SESSION_INACTIVE_DURATION_MS (idle: refresh tokens expire after it).
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { actorOf, logAudit } from "./audit";
import { keyholeError } from "./errors";
import { signInLiveness } from "./liveness";
import { requestInfo, type UserPrincipal } from "./principal";
import type { UserMutationCtx, UserQueryCtx } from "./functions";

const MAX_UA = 256;
const MAX_IP = 64;
/** Bounded reads: sign-ins listed per user, signed out per call, refresh tokens deleted per session per call. */
export const DEVICES_MAX = 100;
export const SIGN_OUT_BATCH = 100;
export const REFRESH_TOKEN_BATCH = 200;

export type DeviceRecord = {
  sessionId: Id<"webSessions">;
  authSessionId: Id<"authSessions">;
  userAgent?: string;
  ipAddress?: string;
  createdAt: number;
  lastActiveAt: number;
};

function clean(s: string | undefined, max: number): string | undefined {
  if (s === undefined) return undefined;
  // Printable ASCII only (no control characters or newlines in logs/UI).
  const t = s.replace(/[^\x20-\x7e]/g, "").trim().slice(0, max);
  return t.length > 0 ? t : undefined;
}

/**
 * Records (or refreshes) the device facts of the caller's current sign-in.
 * Request metadata wins over the arguments, which are only a fallback for
 * runtimes that don't supply it. Idempotent per sign-in.
 */
export async function recordWebSession(
  ctx: UserMutationCtx,
  args: { userId?: string; userAgent?: string; ipAddress?: string },
): Promise<DeviceRecord> {
  const user = ctx.user;
  if (args.userId !== undefined && args.userId !== user.userId) {
    throw keyholeError("forbidden", "userId must be your own: a web session is recorded only for the caller's own sign-in");
  }
  const info = await requestInfo(ctx);
  const userAgent = clean(info.userAgent ?? args.userAgent, MAX_UA);
  const ipAddress = clean(info.ip ?? args.ipAddress, MAX_IP);
  const now = Date.now();
  const existing = await ctx.db
    .query("webSessions")
    .withIndex("by_auth_session", (q) => q.eq("authSessionId", user.authSessionId))
    .unique();
  if (existing !== null) {
    const patch: Partial<Doc<"webSessions">> = { lastActiveAt: now };
    if (userAgent !== undefined) patch.userAgent = userAgent;
    if (ipAddress !== undefined) patch.ipAddress = ipAddress;
    await ctx.db.patch("webSessions", existing._id, patch);
    return {
      sessionId: existing._id,
      authSessionId: user.authSessionId,
      userAgent: userAgent ?? existing.userAgent,
      ipAddress: ipAddress ?? existing.ipAddress,
      createdAt: existing.createdAt,
      lastActiveAt: now,
    };
  }
  const sessionId = await ctx.db.insert("webSessions", {
    userId: user.userId,
    authSessionId: user.authSessionId,
    userAgent,
    ipAddress,
    createdAt: now,
    lastActiveAt: now,
  });
  await logAudit(ctx, {
    userId: user.userId,
    action: "web_session.create",
    actor: actorOf(user),
    targetType: "authSession",
    targetId: user.authSessionId,
    ip: ipAddress,
    userAgent,
  });
  return { sessionId, authSessionId: user.authSessionId, userAgent, ipAddress, createdAt: now, lastActiveAt: now };
}

export type WebSessionStatus = {
  valid: boolean;
  sessionId: string | null;
  authSessionId: Id<"authSessions"> | null;
  current: boolean | null;
  userAgent: string | null;
  ipAddress: string | null;
  createdAt: number | null;
  lastActiveAt: number | null;
  expiresAt: number | null;
};

const NOT_VALID: WebSessionStatus = {
  valid: false,
  sessionId: null,
  authSessionId: null,
  current: null,
  userAgent: null,
  ipAddress: null,
  createdAt: null,
  lastActiveAt: null,
  expiresAt: null,
};

/**
 * Whether one of the caller's sign-ins is live. `sessionId` is a webSessions
 * id (from createWebSession) or an authSessions id. Someone else's session,
 * an unknown id and a signed-out one all get the same `{valid: false}`.
 */
export async function checkWebSession(ctx: UserQueryCtx, sessionId: string): Promise<WebSessionStatus> {
  const user = ctx.user;
  let web: Doc<"webSessions"> | null = null;
  let authSessionId = ctx.db.normalizeId("authSessions", sessionId);
  if (authSessionId === null) {
    const webId = ctx.db.normalizeId("webSessions", sessionId);
    web = webId ? await ctx.db.get("webSessions", webId) : null;
    authSessionId = web?.authSessionId ?? null;
  }
  if (authSessionId === null) return NOT_VALID;
  // The one sign-in rule (liveness.ts): someone else's reads as not live.
  const live = await signInLiveness(ctx, user.userId, authSessionId, Date.now());
  if (live.status !== "active" || live.session === null) return NOT_VALID;
  const auth = live.session;
  web ??= await webFor(ctx, auth._id);
  return {
    valid: true,
    sessionId: web?._id ?? auth._id,
    authSessionId: auth._id,
    current: auth._id === user.authSessionId,
    userAgent: web?.userAgent ?? null,
    ipAddress: web?.ipAddress ?? null,
    createdAt: web?.createdAt ?? auth._creationTime,
    lastActiveAt: lastActive(auth, web, live.lastRefreshAt),
    expiresAt: auth.expirationTime,
  };
}

async function webFor(ctx: QueryCtx, authSessionId: Id<"authSessions">) {
  return await ctx.db
    .query("webSessions")
    .withIndex("by_auth_session", (q) => q.eq("authSessionId", authSessionId))
    .unique();
}

/**
 * When a sign-in was last active: the later of its start, the device
 * record's touch and its newest refresh (the client refreshes its JWT while
 * it is in use).
 */
function lastActive(auth: Doc<"authSessions">, web: Doc<"webSessions"> | null, lastRefreshAt: number | null): number {
  return Math.max(auth._creationTime, web?.lastActiveAt ?? 0, lastRefreshAt ?? 0);
}

export type Device = {
  _id: string;
  authSessionId: Id<"authSessions">;
  userAgent?: string;
  ipAddress?: string;
  createdAt: number;
  lastActiveAt: number;
  current: boolean;
};

/** The caller's live sign-ins, this one marked `current`, most recently active first. */
export async function listDevices(ctx: UserQueryCtx): Promise<Device[]> {
  const user = ctx.user;
  const now = Date.now();
  const sessions = await ctx.db
    .query("authSessions")
    .withIndex("userId", (q) => q.eq("userId", user.userId))
    .take(DEVICES_MAX);
  const out: Device[] = [];
  for (const s of sessions) {
    if (s.expirationTime <= now) continue;
    const live = await signInLiveness(ctx, user.userId, s._id, now);
    if (live.status !== "active") continue;
    const web = await webFor(ctx, s._id);
    out.push({
      _id: web?._id ?? s._id,
      authSessionId: s._id,
      userAgent: web?.userAgent,
      ipAddress: web?.ipAddress,
      createdAt: web?.createdAt ?? s._creationTime,
      lastActiveAt: lastActive(s, web, live.lastRefreshAt),
      current: s._id === user.authSessionId,
    });
  }
  return out.sort((a, b) => Number(b.current) - Number(a.current) || b.lastActiveAt - a.lastActiveAt);
}

/**
 * Deletes a sign-in: its authSessions row (what every request checks), its
 * device record and its refresh tokens. Returns true when refresh tokens
 * remain to be deleted (the caller schedules `deleteRefreshTokens`); they
 * are useless already, since a refresh needs the session row.
 */
export async function deleteAuthSession(ctx: MutationCtx, authSessionId: Id<"authSessions">): Promise<boolean> {
  const web = await webFor(ctx, authSessionId);
  if (web !== null) await ctx.db.delete("webSessions", web._id);
  if ((await ctx.db.get("authSessions", authSessionId)) !== null) {
    await ctx.db.delete("authSessions", authSessionId);
  }
  return await deleteRefreshTokens(ctx, authSessionId);
}

/** Deletes up to a batch of a (deleted) sign-in's refresh tokens; true when more remain. */
export async function deleteRefreshTokens(ctx: MutationCtx, authSessionId: Id<"authSessions">): Promise<boolean> {
  const tokens = await ctx.db
    .query("authRefreshTokens")
    .withIndex("sessionId", (q) => q.eq("sessionId", authSessionId))
    .take(REFRESH_TOKEN_BATCH + 1);
  for (const t of tokens.slice(0, REFRESH_TOKEN_BATCH)) await ctx.db.delete("authRefreshTokens", t._id);
  return tokens.length > REFRESH_TOKEN_BATCH;
}

export type SignOutResult = { signedOut: number; pendingCleanup: Id<"authSessions">[]; more: boolean };

/** Signs out one of the caller's sign-ins (this one too, if named). Someone else's → not_found. */
export async function signOutDevice(ctx: UserMutationCtx, authSessionId: string): Promise<SignOutResult> {
  const user = ctx.user;
  const id = ctx.db.normalizeId("authSessions", authSessionId);
  const session = id ? await ctx.db.get("authSessions", id) : null;
  if (session === null || session.userId !== user.userId) throw keyholeError("not_found", "no such sign-in");
  const pending = await deleteAuthSession(ctx, session._id);
  await audit(ctx, user, session._id, session._id === user.authSessionId ? "this device" : "one device");
  return { signedOut: 1, pendingCleanup: pending ? [session._id] : [], more: false };
}

/**
 * Signs out every sign-in of `user` except `keep`, a batch at a time; `more`
 * says whether another batch is left (the caller schedules it).
 */
export async function signOutAllExcept(
  ctx: MutationCtx,
  userId: Id<"users">,
  keep: Id<"authSessions"> | null,
): Promise<SignOutResult> {
  const sessions = await ctx.db
    .query("authSessions")
    .withIndex("userId", (q) => q.eq("userId", userId))
    .take(SIGN_OUT_BATCH + 1);
  const others = sessions.filter((s) => s._id !== keep);
  const batch = others.slice(0, SIGN_OUT_BATCH);
  const pendingCleanup: Id<"authSessions">[] = [];
  for (const s of batch) {
    if (await deleteAuthSession(ctx, s._id)) pendingCleanup.push(s._id);
  }
  // A full batch read means there may be more (the next pass finds out).
  return { signedOut: batch.length, pendingCleanup, more: sessions.length > SIGN_OUT_BATCH };
}

export async function signOutOtherDevices(ctx: UserMutationCtx): Promise<SignOutResult & { user: UserPrincipal }> {
  const user = ctx.user;
  const result = await signOutAllExcept(ctx, user.userId, user.authSessionId);
  if (result.signedOut > 0) await audit(ctx, user, user.authSessionId, `all other devices (${result.signedOut})`);
  return { ...result, user };
}

async function audit(ctx: MutationCtx, user: UserPrincipal, target: Id<"authSessions">, what: string) {
  await logAudit(ctx, {
    userId: user.userId,
    action: "web_session.sign_out",
    actor: actorOf(user),
    targetType: "authSession",
    targetId: target,
    details: `signed out ${what}`,
  });
}
