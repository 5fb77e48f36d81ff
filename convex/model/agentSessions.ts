/**
 * Agent sessions: short-lived keyhole JWTs (`agent:<rowId>`) with an opaque
 * rotating refresh token, one row per token.
 *
 *   create   → row A (family F = A's id)            token A, refresh A
 *   refresh with refresh A → A ended "refreshed", row B   token B, refresh B
 *   refresh with token B   → B ended "token_refreshed", row C holds refresh B;
 *                            token C only, expiring no later than token B
 *   replay refresh A or token B → every live row of F ended "reuse_detected"
 *   end      → every live row of F ended "ended"
 * (refreshSession: agentRefresh.ts.)
 *
 * Only SHA-256 of the token and of the refresh token is stored. A child of a
 * PAT keeps the PAT's id and a copy of its scopes (authorize() requires both
 * scope sets), expires no later than the PAT, and is ended with it
 * (revokeApiToken, endReason "parent_revoked"). The check side is
 * liveness.ts, for every surface.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { actorOf, logAudit, logSessionAudit, type AuditActor } from "./audit";
import { keyholeError } from "./errors";
import { signKeyholeToken, TOKEN_PREFIX } from "./keys";
import { agentSessionLiveness } from "./liveness";
import { recordUse } from "./principal";
import { sha256Hex, randomToken } from "./crypto";
import { enforce, LIMITS } from "./rateLimit";
import type { ScopeEntry, ScopeInput } from "./scopes";
import { checkScopeResources, validateScopeSyntax } from "./tokens";
import type { PrincipalMutationCtx, PrincipalQueryCtx, UserMutationCtx } from "./functions";

export const TTL_MIN_S = 60;
export const TTL_MAX_S = 24 * 3600;
export const TTL_DEFAULT_S = 3600;
/** A family's absolute lifetime (refreshes never extend past it), capped by a parent PAT's expiry. */
export const FAMILY_LIFETIME_MS = 30 * 24 * 3600_000;
export const METADATA_MAX_BYTES = 4096;
export const AGENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Refresh tokens start with this, so scanners and humans can recognize them. */
export const REFRESH_PREFIX = "khr_";
/** Upper bound on what a token lookup accepts before hashing (longer is never ours). */
const MAX_TOKEN_CHARS = 4096;
/** Bounded reads: live rows per family (normally one), per agent, per list. */
const FAMILY_LIVE_MAX = 100;
const AGENT_LIVE_MAX = 500;
const LIST_MAX = 200;

export type SessionPair = {
  token: string;
  refreshToken: string;
  sessionId: Id<"agentSessions">;
  expiresAt: number;
};

// --- validation ------------------------------------------------------------

export function checkTtl(ttl: number | undefined): number {
  if (ttl === undefined) return TTL_DEFAULT_S;
  if (!Number.isInteger(ttl) || ttl < TTL_MIN_S || ttl > TTL_MAX_S) {
    throw keyholeError(
      "invalid_argument",
      `ttl must be a whole number of seconds from ${TTL_MIN_S} (1 minute) to ${TTL_MAX_S} (24 hours); default ${TTL_DEFAULT_S}`,
    );
  }
  return ttl;
}

export function checkAgentId(agentId: string): string {
  if (!AGENT_ID.test(agentId)) {
    throw keyholeError(
      "invalid_argument",
      'agentId must be 1-128 characters of letters, digits and "_", ".", ":", "-"',
    );
  }
  return agentId;
}

/** A JSON object (plain values only) of at most 4 KB serialized; undefined stays undefined. */
export function checkMetadata(metadata: unknown): Record<string, unknown> | undefined {
  if (metadata === undefined) return undefined;
  const fail = (why: string) =>
    keyholeError("invalid_argument", `metadata must be a JSON object of at most ${METADATA_MAX_BYTES} bytes: ${why}`);
  if (!isPlainObject(metadata)) throw fail("got " + describeType(metadata));
  const walk = (value: unknown, depth: number): void => {
    if (depth > 8) throw fail("nested more than 8 levels");
    if (value === null || typeof value === "string" || typeof value === "boolean") return;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw fail("numbers must be finite");
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value) walk(v, depth + 1);
      return;
    }
    if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k.length === 0 || k.startsWith("$")) throw fail(`key "${k.slice(0, 32)}" is not allowed (empty or starts with "$")`);
        walk(v, depth + 1);
      }
      return;
    }
    throw fail(`${describeType(value)} is not a JSON value`);
  };
  walk(metadata, 0);
  const bytes = new TextEncoder().encode(JSON.stringify(metadata)).length;
  if (bytes > METADATA_MAX_BYTES) throw fail(`it is ${bytes} bytes`);
  return metadata;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof ArrayBuffer) return "bytes";
  return typeof v === "object" ? "an object that is not plain" : `a ${typeof v}`;
}


/**
 * The `exp` claim of a JWT, in ms, read without verifying the signature
 * (lookups go by the token's hash, which only we could have stored).
 * Null when it is not shaped like a keyhole token.
 */
export function jwtExpiryMs(token: string): number | null {
  if (token.length > MAX_TOKEN_CHARS || !token.startsWith(TOKEN_PREFIX)) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const payload = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** The live row a session token names, or null (malformed, unknown, ended, expired). */
export async function rowByToken(ctx: QueryCtx | MutationCtx, token: string): Promise<Doc<"agentSessions"> | null> {
  if (jwtExpiryMs(token) === null) return null;
  const tokenHash = await sha256Hex(token);
  return await ctx.db
    .query("agentSessions")
    .withIndex("by_token_hash", (q) => q.eq("tokenHash", tokenHash))
    .unique();
}

// --- create ----------------------------------------------------------------

export type CreateArgs = {
  agentId: string;
  ttl?: number;
  metadata?: unknown;
  scopes?: ScopeInput[];
};

/**
 * A new session family for the caller: a signed-in person (full role,
 * optionally narrowed) or a PAT (a child: its scopes and expiry bound it).
 * Agent sessions cannot mint sessions.
 */
export async function createAgentSession(ctx: PrincipalMutationCtx, args: CreateArgs): Promise<SessionPair> {
  const principal = ctx.principal;
  if (principal.kind === "agent") {
    throw keyholeError("forbidden", "agent sessions cannot create sessions: use a PAT or sign in");
  }
  await recordUse(ctx, principal); // a PAT's last use (at most one write a minute)
  const agentId = checkAgentId(args.agentId);
  const ttl = checkTtl(args.ttl);
  const metadata = checkMetadata(args.metadata);
  // The same rules as PAT scopes: syntax, personal permissions unscoped, and
  // every named org/workspace one the owner is a member of.
  const scopes = validateScopeSyntax(args.scopes ?? []).entries;
  await checkScopeResources(ctx, principal.userId, scopes);
  await enforce(ctx, `session-create:${principal.userId}`, LIMITS.sessionCreate, "session creations");

  const now = Date.now();
  let familyExpiresAt = now + FAMILY_LIFETIME_MS;
  let parent: Doc<"apiTokens"> | null = null;
  if (principal.kind === "pat") {
    parent = principal.token;
    familyExpiresAt = Math.min(familyExpiresAt, parent.expiresAt);
  }
  const expiresAt = Math.min(now + ttl * 1000, familyExpiresAt);

  const sessionId = await ctx.db.insert("agentSessions", {
    userId: principal.userId,
    agentId,
    familyId: "", // set below: the first row's id names the family
    parentTokenId: parent?._id,
    scopes,
    parentScopes: parent ? parent.scopes : undefined,
    metadata,
    tokenHash: "",
    refreshHash: "",
    ttl,
    createdAt: now,
    expiresAt,
    familyExpiresAt,
  });
  const { refreshToken, ...rest } = await issue(ctx, sessionId, expiresAt, now, { refreshHash: "new" });
  const pair: SessionPair = { ...rest, refreshToken: refreshToken! };
  await ctx.db.patch("agentSessions", sessionId, { familyId: sessionId });
  await logAudit(ctx, {
    userId: principal.userId,
    action: "session.create",
    actor: actorOf(principal),
    targetType: "agentSession",
    targetId: sessionId,
    details: `agent=${agentId} ttl=${ttl}s${parent ? ` parent=${parent._id}` : ""}${scopes.length ? ` scopes=${scopes.length}` : ""}`,
  });
  return pair;
}

/**
 * Signs the row's token and stores its hash. `refreshHash: "new"` also mints
 * a refresh token (returned, its hash stored); any other value is stored as
 * is (a refresh token moved from the previous row, or "" for none).
 */
export async function issue(
  ctx: MutationCtx,
  sessionId: Id<"agentSessions">,
  expiresAt: number,
  now: number,
  opts: { refreshHash: "new" | string },
): Promise<{ token: string; refreshToken?: string; sessionId: Id<"agentSessions">; expiresAt: number }> {
  const { token, keyId, bindingHash } = await signKeyholeToken({ kind: "agent", id: sessionId, expiresAt, now });
  const refreshToken = opts.refreshHash === "new" ? REFRESH_PREFIX + randomToken(32) : undefined;
  await ctx.db.patch("agentSessions", sessionId, {
    tokenHash: await sha256Hex(token),
    refreshHash: refreshToken === undefined ? opts.refreshHash : await sha256Hex(refreshToken),
    keyId,
    bindingHash,
  });
  return { token, ...(refreshToken === undefined ? {} : { refreshToken }), sessionId, expiresAt };
}

// --- validate --------------------------------------------------------------

export type Validation =
  | { valid: true; agentId: string; expiresAt: number; metadata: Record<string, unknown> | null }
  | { valid: false; agentId: null; expiresAt: null; metadata: null };

export const INVALID: Validation = { valid: false, agentId: null, expiresAt: null, metadata: null };

/**
 * Whether a session token is live. Possession of the token is the access
 * check. Every bad token (malformed, unknown, expired, ended, parent gone)
 * gets the very same answer.
 */
export async function validateAgentSession(ctx: QueryCtx, token: string): Promise<Validation> {
  const now = Date.now();
  const exp = jwtExpiryMs(token);
  if (exp === null || exp <= now) return INVALID;
  const row = await rowByToken(ctx, token);
  if (row === null || (await agentSessionLiveness(ctx, row, now)).status !== "active") return INVALID;
  return {
    valid: true,
    agentId: row.agentId,
    expiresAt: row.expiresAt,
    metadata: (row.metadata as Record<string, unknown> | undefined) ?? null,
  };
}

// --- refresh (agentRefresh.ts) ---------------------------------------------

/** The ttl (s) a session was established with; older rows without one: their own lifetime. */
export function sessionTtlOf(row: Doc<"agentSessions">): number {
  return row.ttl ?? Math.min(TTL_MAX_S, Math.max(TTL_MIN_S, Math.round((row.expiresAt - row.createdAt) / 1000)));
}

// --- end -------------------------------------------------------------------

/** Ends every live row of a family (normally one); returns how many. */
export async function endFamily(
  ctx: MutationCtx,
  familyId: string,
  reason: string,
  now = Date.now(),
): Promise<number> {
  const live = await ctx.db
    .query("agentSessions")
    .withIndex("by_family", (q) => q.eq("familyId", familyId).eq("endedAt", undefined))
    .take(FAMILY_LIVE_MAX);
  for (const r of live) await ctx.db.patch("agentSessions", r._id, { endedAt: now, endReason: reason });
  return live.length;
}

/**
 * Ends the session a token belongs to (its whole family: the live row is the
 * latest refresh). Possession of the token is the access check; ending an
 * already-ended session is a no-op. Unknown or malformed → unauthenticated.
 */
export async function endAgentSessionByToken(ctx: MutationCtx, token: string): Promise<void> {
  const row = await rowByToken(ctx, token);
  if (row === null) throw keyholeError("unauthenticated", "unknown session token");
  const ended = await endFamily(ctx, row.familyId, "ended");
  if (ended === 0) return;
  await logSessionAudit(ctx, row, {
    action: "session.end",
    targetType: "agentSession",
    targetId: row._id,
    details: `agent=${row.agentId} by=token`,
  });
}

// --- the owner's views -----------------------------------------------------

export type SessionSummary = {
  _id: Id<"agentSessions">;
  agentId: string;
  createdAt: number;
  lastSeenAt?: number;
  expiresAt: number;
  parentTokenId?: Id<"apiTokens">;
  metadata?: Record<string, unknown>;
  scopes: ScopeEntry[];
};

/** The caller's live (not ended, not expired) agent sessions, soonest expiry first. */
export async function listLiveSessions(ctx: PrincipalQueryCtx): Promise<SessionSummary[]> {
  const p = ctx.principal;
  const now = Date.now();
  const rows = await ctx.db
    .query("agentSessions")
    .withIndex("by_user", (q) => q.eq("userId", p.userId).eq("endedAt", undefined).gt("expiresAt", now))
    .take(LIST_MAX);
  return rows.map((r) => ({
    _id: r._id,
    agentId: r.agentId,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    expiresAt: r.expiresAt,
    parentTokenId: r.parentTokenId,
    metadata: r.metadata as Record<string, unknown> | undefined,
    scopes: r.scopes, // shown on the sessions screen; a child's parent scopes are its token's
  }));
}

/** Ends one of the signed-in person's sessions (with its family). Others' → not_found. */
export async function endOwnSession(ctx: UserMutationCtx, sessionId: string): Promise<void> {
  const user = ctx.user;
  const id = ctx.db.normalizeId("agentSessions", sessionId);
  const row = id ? await ctx.db.get("agentSessions", id) : null;
  if (row === null || row.userId !== user.userId) throw keyholeError("not_found", "no such agent session");
  const ended = await endFamily(ctx, row.familyId, "ended");
  if (ended === 0) return;
  await logAudit(ctx, {
    userId: user.userId,
    action: "session.end",
    actor: actorOf(user),
    targetType: "agentSession",
    targetId: row._id,
    details: `agent=${row.agentId} by=owner`,
  });
}

/** Ends every live session of one agent id; returns how many rows were ended. */
export async function endSessionsForAgent(ctx: UserMutationCtx, agentId: string): Promise<number> {
  const user = ctx.user;
  checkAgentId(agentId);
  const now = Date.now();
  const live = await ctx.db
    .query("agentSessions")
    .withIndex("by_user_agent", (q) => q.eq("userId", user.userId).eq("agentId", agentId).eq("endedAt", undefined))
    .take(AGENT_LIVE_MAX);
  for (const r of live) await ctx.db.patch("agentSessions", r._id, { endedAt: now, endReason: "ended" });
  if (live.length > 0) {
    const actor: AuditActor = actorOf(user);
    await logAudit(ctx, {
      userId: user.userId,
      action: "session.end",
      actor,
      targetType: "agent",
      targetId: agentId,
      details: `agent=${agentId} by=owner count=${live.length}`,
    });
  }
  return live.length;
}

// --- housekeeping ------------------------------------------------------------

/** Rows are kept this long after their family's absolute expiry (reuse forensics), then deleted. */
export const PURGE_AFTER_MS = 7 * 24 * 3600_000;
const PURGE_BATCH = 500;

/**
 * Deletes a batch of rows whose family expired more than PURGE_AFTER_MS ago
 * (every token and refresh token of such a family is refused anyway).
 * Returns whether more remain. Run from a cron (sessions:purgeExpiredSessions).
 */
export async function purgeExpiredSessions(ctx: MutationCtx, now = Date.now()): Promise<{ deleted: number; more: boolean }> {
  const old = await ctx.db
    .query("agentSessions")
    .withIndex("by_family_expiry", (q) => q.lt("familyExpiresAt", now - PURGE_AFTER_MS))
    .take(PURGE_BATCH);
  for (const r of old) await ctx.db.delete("agentSessions", r._id);
  return { deleted: old.length, more: old.length === PURGE_BATCH };
}

// --- for the OAuth authorization server (convex/model/oauthServer/) --------

/**
 * Inserts a live session row for `userId` and issues its token pair. No
 * caller check here: the OAuth token endpoint has already checked the
 * authorization code (a new family) or the refresh token (`familyId` given:
 * a sibling in the same family, within the refresh grace window).
 */
export async function insertSessionRow(
  ctx: MutationCtx,
  row: {
    userId: Id<"users">;
    agentId: string;
    scopes: Doc<"agentSessions">["scopes"];
    ttlS: number;
    familyId?: string;
    familyExpiresAt: number;
    /** The resource an OAuth grant was issued for (schema: agentSessions.audience). */
    audience: string;
  },
): Promise<SessionPair> {
  const now = Date.now();
  const expiresAt = Math.min(now + checkTtl(row.ttlS) * 1000, row.familyExpiresAt);
  const sessionId = await ctx.db.insert("agentSessions", {
    userId: row.userId,
    agentId: checkAgentId(row.agentId),
    familyId: row.familyId ?? "",
    scopes: row.scopes,
    tokenHash: "",
    refreshHash: "",
    createdAt: now,
    expiresAt,
    familyExpiresAt: row.familyExpiresAt,
    audience: row.audience,
  });
  const { refreshToken, ...rest } = await issue(ctx, sessionId, expiresAt, now, { refreshHash: "new" });
  if (row.familyId === undefined) await ctx.db.patch("agentSessions", sessionId, { familyId: sessionId });
  return { ...rest, refreshToken: refreshToken! };
}
