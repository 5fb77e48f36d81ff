/**
 * refreshSession: one mutation, two credentials (docs/design.md, "Public API").
 *
 *   {refreshToken, ttl?}  the refresh-token holder rotates the pair: every live
 *                         token of the family ends ("refreshed" for the one the
 *                         refresh token belonged to, "superseded" for tokens
 *                         minted from a session token), and a new token +
 *                         refresh token come back. `ttl` may pick a new
 *                         lifetime (60 s – 24 h); default: the session's ttl.
 *   {token, ttl?}         the current, unexpired session token gets a new
 *                         session token only: never a refresh token, never an
 *                         expiry later than the presented token's (so never a
 *                         lifetime above the session's ttl). The presented token
 *                         ends ("token_refreshed"); the family's refresh token
 *                         stays valid and moves to the new row. A leaked session
 *                         token therefore cannot outlive the session it came
 *                         from, and the holder's next refresh ends it.
 *
 * Replay: presenting a refresh token that was already rotated, or a session
 * token that was already refreshed, ends the whole family ("reuse_detected",
 * RFC 9700 §4.14.2) and is audited. A mutation that throws rolls its writes
 * back, so refusals are returned, not thrown (as @convex-dev/auth's own
 * refresh answers `null`): `{ok: false, code, message}` with code
 * `unauthenticated` (unknown credential), `revoked` (ended, replayed, parent
 * PAT revoked) or `expired`. Malformed arguments throw `invalid_argument`.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { logAudit } from "./audit";
import { sha256Hex } from "./crypto";
import { keyholeError } from "./errors";
import { agentSessionLiveness, parentLiveness } from "./liveness";
import { requestInfo } from "./principal";
import {
  checkTtl,
  endFamily,
  issue,
  jwtExpiryMs,
  REFRESH_PREFIX,
  rowByToken,
  sessionTtlOf,
} from "./agentSessions";

const MAX_REFRESH_CHARS = 128;

export const vRefreshRefusalCode = v.union(
  v.literal("unauthenticated"),
  v.literal("revoked"),
  v.literal("expired"),
  v.literal("forbidden"),
);

/** The result of refreshSession: the new credential(s), or why not. */
export const vRefreshResult = v.union(
  v.object({
    ok: v.literal(true),
    token: v.string(),
    /** Only when the refresh token was presented: the rotated refresh token. */
    refreshToken: v.optional(v.string()),
    sessionId: v.id("agentSessions"),
    expiresAt: v.number(),
  }),
  v.object({ ok: v.literal(false), code: vRefreshRefusalCode, message: v.string() }),
);
export type RefreshResult = Infer<typeof vRefreshResult>;
type Refusal = Extract<RefreshResult, { ok: false }>;

const refuse = (code: Refusal["code"], message: string): Refusal => ({ ok: false, code, message });

/** Token end reasons that mean "this credential was already used to refresh". */
const SPENT = new Set(["refreshed", "token_refreshed"]);

export type RefreshArgs = {
  refreshToken?: string;
  token?: string;
  ttl?: number;
  /** Set only by the OAuth token endpoint (never by a validator): an OAuth grant rotates there and nowhere else. */
  viaOAuthTokenEndpoint?: boolean;
};

// Its refresh token is bound to the client (and its secret) and its lifetimes to the grant.
const OAUTH_ONLY = "this session is an OAuth grant: the app refreshes it at the token endpoint (/oauth/token)";

export async function refreshAgentSession(ctx: MutationCtx, args: RefreshArgs): Promise<RefreshResult> {
  if ((args.refreshToken === undefined) === (args.token === undefined)) {
    throw keyholeError("invalid_argument", "pass exactly one of refreshToken or token (the current session token)");
  }
  const ttl = args.ttl === undefined ? undefined : checkTtl(args.ttl);
  const now = Date.now();
  const via = args.viaOAuthTokenEndpoint === true;
  if (args.refreshToken !== undefined) return await byRefreshToken(ctx, args.refreshToken, ttl, now, via);
  return await bySessionToken(ctx, args.token!, ttl, now, via);
}

async function rowByRefreshToken(ctx: MutationCtx, rt: string): Promise<Doc<"agentSessions"> | null> {
  if (!rt.startsWith(REFRESH_PREFIX) || rt.length > MAX_REFRESH_CHARS) return null;
  const refreshHash = await sha256Hex(rt);
  return await ctx.db
    .query("agentSessions")
    .withIndex("by_refresh_hash", (q) => q.eq("refreshHash", refreshHash))
    .unique();
}

/** Ends the family of a replayed credential and audits it; the refusal to return. */
async function reuseDetected(ctx: MutationCtx, row: Doc<"agentSessions">, via: string, now: number): Promise<Refusal> {
  const ended = await endFamily(ctx, row.familyId, "reuse_detected", now);
  await logAudit(ctx, {
    userId: row.userId,
    action: "session.reuse_detected",
    actor: { kind: "agent", id: row._id },
    targetType: "agentSessionFamily",
    targetId: row.familyId,
    details: `agent=${row.agentId} replayed ${via} of ${row._id}; ended ${ended} live session(s)`,
    ...(await requestInfo(ctx)),
  });
  return refuse(
    "revoked",
    `this ${via} was already used to refresh: the whole session family has been revoked; create a new session`,
  );
}

async function byRefreshToken(
  ctx: MutationCtx,
  rt: string,
  ttl: number | undefined,
  now: number,
  viaOAuthTokenEndpoint: boolean,
): Promise<RefreshResult> {
  const row = await rowByRefreshToken(ctx, rt);
  if (row === null) return refuse("unauthenticated", "unknown refresh token");
  if (row.endedAt !== undefined) {
    if (row.endReason === "refreshed") return await reuseDetected(ctx, row, "refresh token", now);
    return refuse("revoked", "this agent session has ended");
  }
  // The row's own token may have expired: the refresh token outlives it.
  if (row.familyExpiresAt <= now) return refuse("expired", "this session reached its absolute lifetime: create a new session");
  if (!viaOAuthTokenEndpoint && row.audience !== undefined) return refuse("forbidden", OAUTH_ONLY);
  if (row.parentTokenId !== undefined) {
    const parent = await parentLiveness(ctx, row.parentTokenId, now);
    if (parent.status !== "active") return refuse(parent.status, parent.reason);
  }
  const ttlS = ttl ?? sessionTtlOf(row);
  // The holder takes the family back: every live token of it ends now.
  await endFamily(ctx, row.familyId, "superseded", now);
  await ctx.db.patch("agentSessions", row._id, { endReason: "refreshed" });
  const expiresAt = Math.min(now + ttlS * 1000, row.familyExpiresAt);
  const sessionId = await insertSuccessor(ctx, row, { expiresAt, ttl: ttlS, now });
  const pair = await issue(ctx, sessionId, expiresAt, now, { refreshHash: "new" });
  await auditRefresh(ctx, row, sessionId, "refresh_token");
  return { ok: true, ...pair };
}

async function bySessionToken(
  ctx: MutationCtx,
  token: string,
  ttl: number | undefined,
  now: number,
  viaOAuthTokenEndpoint: boolean,
): Promise<RefreshResult> {
  const row = await rowByToken(ctx, token);
  if (row === null) return refuse("unauthenticated", "unknown session token");
  if (row.endedAt !== undefined && SPENT.has(row.endReason ?? "")) return await reuseDetected(ctx, row, "session token", now);
  const live = await agentSessionLiveness(ctx, row, now);
  if (live.status !== "active") return refuse(live.status, live.reason);
  if (!viaOAuthTokenEndpoint && row.audience !== undefined) return refuse("forbidden", OAUTH_ONLY);
  const exp = jwtExpiryMs(token);
  if (exp === null || exp <= now) return refuse("expired", "this session token has expired: refresh with the refresh token");
  // Never later than the presented token: a session token cannot extend itself.
  const expiresAt = Math.min(row.expiresAt, ttl === undefined ? row.expiresAt : now + ttl * 1000);
  await ctx.db.patch("agentSessions", row._id, { endedAt: now, endReason: "token_refreshed", refreshHash: "" });
  const sessionId = await insertSuccessor(ctx, row, { expiresAt, ttl: sessionTtlOf(row), now });
  // The family's refresh token (if this row held it) moves to the new row.
  const { refreshToken: _none, ...pair } = await issue(ctx, sessionId, expiresAt, now, { refreshHash: row.refreshHash });
  await auditRefresh(ctx, row, sessionId, "token");
  return { ok: true, ...pair };
}

/** The next row of `row`'s family: same owner, agent, scopes, parent and family lifetime. */
async function insertSuccessor(
  ctx: MutationCtx,
  row: Doc<"agentSessions">,
  next: { expiresAt: number; ttl: number; now: number },
): Promise<Id<"agentSessions">> {
  return await ctx.db.insert("agentSessions", {
    userId: row.userId,
    agentId: row.agentId,
    familyId: row.familyId,
    parentTokenId: row.parentTokenId,
    scopes: row.scopes,
    parentScopes: row.parentScopes,
    metadata: row.metadata,
    tokenHash: "",
    refreshHash: "",
    ttl: next.ttl,
    createdAt: next.now,
    expiresAt: next.expiresAt,
    familyExpiresAt: row.familyExpiresAt,
    audience: row.audience,
  });
}

async function auditRefresh(ctx: MutationCtx, from: Doc<"agentSessions">, to: Id<"agentSessions">, via: string) {
  await logAudit(ctx, {
    userId: from.userId,
    action: "session.refresh",
    actor: { kind: "agent", id: from._id },
    targetType: "agentSession",
    targetId: to,
    details: `agent=${from.agentId} from=${from._id} via=${via}`,
    ...(await requestInfo(ctx)),
  });
}
