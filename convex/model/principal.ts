/**
 * Who is calling: identity → principal → record checks. Every keyhole check
 * starts here. Interactive sign-ins (@convex-dev/auth, issuer = site URL) and
 * keyhole tokens (issuer = KEYHOLE_ISSUER, model/issuer.ts) are told apart by
 * issuer, never by splitting the subject, so a token can never pass for a person.
 */
import type { UserIdentity } from "convex/server";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { useFields } from "./activity";
import { keyholeError } from "./errors";
import { keyholeIssuer, parseKeyholeSubject, siteUrl } from "./keys";
import { checkTokenTrust } from "./keyTrust";
import { agentSessionState, patLiveness, signInLiveness } from "./liveness";
import type { ScopeEntry } from "./scopes";

export type UserPrincipal = {
  kind: "user";
  userId: Id<"users">;
  authSessionId: Id<"authSessions">;
};
export type PatPrincipal = {
  kind: "pat";
  userId: Id<"users">;
  tokenId: Id<"apiTokens">;
  token: Doc<"apiTokens">;
};
export type AgentPrincipal = {
  kind: "agent";
  userId: Id<"users">;
  sessionId: Id<"agentSessions">;
  session: Doc<"agentSessions">;
  /** The PAT a child session came from (already read by the liveness check), else null. */
  parent: Doc<"apiTokens"> | null;
};
export type Principal = UserPrincipal | PatPrincipal | AgentPrincipal;

type ReadCtx = Pick<QueryCtx, "auth" | "db">;

export { tokenStatus, type TokenStatus } from "./liveness";

/** Every list of scope entries that must allow an action (all of them). */
export function scopeSets(p: Principal): ScopeEntry[][] {
  switch (p.kind) {
    case "user":
      return [];
    case "pat":
      return [p.token.scopes];
    case "agent":
      return p.session.parentScopes ? [p.session.scopes, p.session.parentScopes] : [p.session.scopes];
  }
}

const cache = new WeakMap<object, Promise<Principal | null>>();

/**
 * The caller, or null when unauthenticated. Throws `revoked` / `expired` for
 * a keyhole token whose record says so, and `unauthenticated` for a sign-in
 * whose session is gone (signed out, revoked, timed out). Memoized per
 * function execution, so repeated authorize() calls read nothing more.
 */
export function getPrincipal(ctx: ReadCtx): Promise<Principal | null> {
  let p = cache.get(ctx.db);
  if (!p) {
    p = resolvePrincipal(ctx);
    cache.set(ctx.db, p);
  }
  return p;
}

export async function requirePrincipal(ctx: ReadCtx): Promise<Principal> {
  const p = await getPrincipal(ctx);
  if (p === null) throw keyholeError("unauthenticated", "sign in or present a keyhole token");
  return p;
}

/** Only a person signed in through @convex-dev/auth passes. */
export async function requireUser(ctx: ReadCtx, action = "do this"): Promise<UserPrincipal> {
  const p = await requirePrincipal(ctx);
  if (p.kind !== "user") {
    throw keyholeError(
      "forbidden",
      p.kind === "pat"
        ? `PATs cannot create or revoke other PATs: sign in interactively to ${action}`
        : `agent sessions cannot ${action}: sign in interactively`,
    );
  }
  return p;
}

/** A sign-in through @convex-dev/auth (its JWTs are issued by the site URL). */
export function isSignInIdentity(identity: UserIdentity): boolean {
  return identity.issuer === siteUrl();
}

async function resolvePrincipal(ctx: ReadCtx): Promise<Principal | null> {
  const identity = await ctx.auth.getUserIdentity();
  if (identity === null) return null;
  if (identity.issuer === keyholeIssuer()) return await keyholePrincipal(ctx, identity);
  if (isSignInIdentity(identity)) return await signInPrincipal(ctx, identity);
  throw keyholeError("unauthenticated", "credential not recognized");
}

async function signInPrincipal(ctx: ReadCtx, identity: UserIdentity): Promise<UserPrincipal> {
  const [rawUser, rawSession] = identity.subject.split("|");
  const userId = rawUser ? ctx.db.normalizeId("users", rawUser) : null;
  const authSessionId = rawSession ? ctx.db.normalizeId("authSessions", rawSession) : null;
  if (userId === null || authSessionId === null) {
    throw keyholeError("unauthenticated", "credential not recognized");
  }
  // The JWT lives for an hour; the session record decides now (liveness.ts).
  const live = await signInLiveness(ctx, userId, authSessionId, Date.now());
  if (live.status !== "active") throw keyholeError("unauthenticated", live.reason);
  return { kind: "user", userId, authSessionId };
}

async function keyholePrincipal(ctx: ReadCtx, identity: UserIdentity): Promise<Principal> {
  const sub = parseKeyholeSubject(identity.subject);
  if (sub === null) throw keyholeError("unauthenticated", "credential not recognized");
  const now = Date.now();
  if (sub.kind === "pat") {
    const tokenId = ctx.db.normalizeId("apiTokens", sub.id);
    const token = tokenId ? await ctx.db.get("apiTokens", tokenId) : null;
    if (token === null) throw keyholeError("unauthenticated", "credential not recognized");
    await checkTokenTrust(ctx, identity, token); // bound to this record, key not compromised
    const live = patLiveness(token, now);
    if (live.status !== "active") throw keyholeError(live.status, live.reason);
    return { kind: "pat", userId: token.userId, tokenId: token._id, token };
  }
  const sessionId = ctx.db.normalizeId("agentSessions", sub.id);
  const session = sessionId ? await ctx.db.get("agentSessions", sessionId) : null;
  if (session === null) throw keyholeError("unauthenticated", "credential not recognized");
  await checkTokenTrust(ctx, identity, session);
  // A child's parent PAT decides too, at once (liveness.ts).
  const { live, parent } = await agentSessionState(ctx, session, now);
  if (live.status !== "active") throw keyholeError(live.status, live.reason);
  return { kind: "agent", userId: session.userId, sessionId: session._id, session, parent };
}

export type RequestInfo = { ip?: string; userAgent?: string };

/**
 * IP and user agent of the current request (mutations, actions and HTTP
 * actions; functions they run see the same request). Empty when unknown.
 */
export async function requestInfo(ctx: { meta: Pick<MutationCtx["meta"], "getRequestMetadata"> }): Promise<RequestInfo> {
  try {
    const m = await ctx.meta.getRequestMetadata();
    return { ip: m.ip ?? undefined, userAgent: m.userAgent?.slice(0, 256) ?? undefined };
  } catch {
    return {};
  }
}

export const LAST_USE_INTERVAL_MS = 60_000;

/**
 * When `p`'s next use must be recorded (recordUse writes then, not before);
 * null for a person's sign-in, whose use is never recorded here.
 */
export function useRecordDueAt(p: Principal): number | null {
  if (p.kind === "user") return null;
  const last = p.kind === "pat" ? p.token.lastUsedAt : p.session.lastSeenAt;
  return last === undefined ? 0 : last + LAST_USE_INTERVAL_MS;
}

/** Records last use of a token credential, at most one write a minute. */
export async function recordUse(ctx: MutationCtx, p: Principal): Promise<void> {
  const now = Date.now();
  const dueAt = useRecordDueAt(p);
  if (dueAt === null || now < dueAt) return;
  if (p.kind === "pat") {
    const info = await requestInfo(ctx);
    // The activity chart's day counter rides on this once-a-minute write (model/activity.ts).
    const uses = await useFields(ctx, p.token, now);
    await ctx.db.patch("apiTokens", p.tokenId, { lastUsedAt: now, lastUsedIp: info.ip, lastUsedUserAgent: info.userAgent, ...uses });
    // memoized principal: later authorize() calls in this mutation don't write again
    Object.assign(p.token, { lastUsedAt: now }, uses);
  } else if (p.kind === "agent") {
    const info = await requestInfo(ctx);
    await ctx.db.patch("agentSessions", p.sessionId, { lastSeenAt: now, lastSeenIp: info.ip, lastSeenUserAgent: info.userAgent });
    p.session.lastSeenAt = now;
  }
}
