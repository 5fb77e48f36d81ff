/**
 * The one liveness rule for every credential kind. Every surface that asks
 * "is this credential alive right now?" asks here: principal.ts (so
 * authorize(), every Convex function, the HTTP API and MCP), RFC 7662
 * introspection and leak reports (http/authn.ts), validateSession and
 * refreshSession (agentSessions.ts), and the device views (webSessions.ts).
 *
 *   PAT            revoked (revokedAt set) → revoked; expiresAt ≤ now → expired.
 *   agent session  ended (endedAt set) → revoked; expiresAt ≤ now → expired;
 *                  a child of a PAT is also dead when its parent is (a missing
 *                  parent counts as revoked). The parent's record decides at
 *                  once, even while the batched ending of its children
 *                  (tokens.endChildSessions) is still running.
 *   sign-in        the @convex-dev/auth session row exists and is the user's;
 *                  past its absolute expiry, or idle past the inactive
 *                  duration (its newest refresh token expired) → expired.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { tokenStatus } from "../../shared/tokens";

export { tokenStatus, type TokenStatus } from "../../shared/tokens";

/** A credential's state and, when dead, a caller-facing reason. */
export type Liveness = { status: "active" } | { status: "expired" | "revoked"; reason: string };

type ReadCtx = Pick<QueryCtx, "db">;

const ACTIVE: Liveness = { status: "active" };

export function patLiveness(t: Doc<"apiTokens">, now: number): Liveness {
  const status = tokenStatus(t, now);
  if (status === "revoked") return { status, reason: "this token has been revoked" };
  if (status === "expired") return { status, reason: "this token has expired" };
  return ACTIVE;
}

/** The parent PAT of a child session, judged by the PAT rule (gone = revoked). */
export async function parentLiveness(ctx: ReadCtx, parentTokenId: Id<"apiTokens">, now: number): Promise<Liveness> {
  return parentRule(await ctx.db.get("apiTokens", parentTokenId), now);
}

function parentRule(parent: Doc<"apiTokens"> | null, now: number): Liveness {
  const status = parent === null ? "revoked" : tokenStatus(parent, now);
  if (status === "active") return ACTIVE;
  return { status, reason: `the PAT this agent session came from ${status === "revoked" ? "has been revoked" : "has expired"}` };
}

/**
 * An agent session row, its parent PAT included, and the parent it read (so
 * a caller that needs the parent again — the token policy — reads nothing
 * more). Reads at most one more document (the parent).
 */
export async function agentSessionState(
  ctx: ReadCtx,
  s: Doc<"agentSessions">,
  now: number,
): Promise<{ live: Liveness; parent: Doc<"apiTokens"> | null }> {
  if (s.endedAt !== undefined) return { live: { status: "revoked", reason: "this agent session has ended" }, parent: null };
  if (s.expiresAt <= now) return { live: { status: "expired", reason: "this agent session has expired" }, parent: null };
  if (s.parentTokenId === undefined) return { live: ACTIVE, parent: null };
  const parent = await ctx.db.get("apiTokens", s.parentTokenId);
  return { live: parentRule(parent, now), parent };
}

export async function agentSessionLiveness(ctx: ReadCtx, s: Doc<"agentSessions">, now: number): Promise<Liveness> {
  return (await agentSessionState(ctx, s, now)).live;
}

/** The newest refresh token of a sign-in (null right after some sign-ins, and in tests). */
async function newestRefreshToken(ctx: ReadCtx, authSessionId: Id<"authSessions">) {
  return await ctx.db
    .query("authRefreshTokens")
    .withIndex("sessionId", (q) => q.eq("sessionId", authSessionId))
    .order("desc")
    .first();
}

export type SignInState = Liveness & { session: Doc<"authSessions"> | null; lastRefreshAt: number | null };

/**
 * A sign-in of `userId`. Signed out or someone else's → revoked; past the
 * absolute expiry (AUTH_SESSION_TOTAL_DURATION_MS) or idle past
 * AUTH_SESSION_INACTIVE_DURATION_MS (its newest refresh token expired, so it
 * can never get another JWT) → expired.
 */
export async function signInLiveness(
  ctx: ReadCtx,
  userId: Id<"users">,
  authSessionId: Id<"authSessions">,
  now: number,
): Promise<SignInState> {
  const session = await ctx.db.get("authSessions", authSessionId);
  if (session === null || session.userId !== userId) {
    return { status: "revoked", reason: "this sign-in has ended: sign in again", session: null, lastRefreshAt: null };
  }
  const latest = await newestRefreshToken(ctx, authSessionId);
  const lastRefreshAt = latest?._creationTime ?? null;
  if (session.expirationTime <= now || (latest !== null && latest.expirationTime <= now)) {
    return { status: "expired", reason: "this sign-in has ended: sign in again", session, lastRefreshAt };
  }
  return { status: "active", session, lastRefreshAt };
}
