/**
 * Personal access tokens (PATs): create, list, get, revoke.
 *
 * A PAT is an ES256 JWT (see keys.ts) whose `jti` is its apiTokens row id.
 * The row holds the metadata and SHA-256 of the text; the text is returned
 * once by createApiToken and never stored, logged or listed. Only a person
 * signed in through @convex-dev/auth manages tokens (the userQuery and
 * userMutation builders in convex/auth.ts): a PAT or
 * an agent session gets `forbidden`.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { vScopeEntry, vScopeInput, vTokenStatus, vTokenType } from "../validators";
import { actorOf, logAudit } from "./audit";
import { sha256Hex } from "./crypto";
import { keyholeError } from "./errors";
import { policyWarnings } from "./governance/policy";
import { signKeyholeToken } from "./keys";
import { PERSONAL_PERMISSIONS, type Permission } from "./permissions";
import { tokenStatus, type Principal, type TokenStatus, type UserPrincipal } from "./principal";
import { enforce, LIMITS } from "./rateLimit";
import { formatScopes, normalizeScopes, parseResource, ScopeError, type ScopeEntry, type ScopeInput } from "./scopes";
import type { UserMutationCtx, UserQueryCtx } from "./functions";

import { DEFAULT_EXPIRES_IN_S, isTokenName, MAX_DESCRIPTION, MAX_EXPIRES_IN_S, MIN_EXPIRES_IN_S } from "../../shared/tokens";

export { DAY_S, DEFAULT_EXPIRES_IN_S, MAX_DESCRIPTION, MAX_EXPIRES_IN_S, MIN_EXPIRES_IN_S, TOKEN_NAME } from "../../shared/tokens";
/** Active tokens one person may hold at once (keeps every list complete and bounded). */
export const MAX_ACTIVE_TOKENS = 100;
/** Rows one listApiTokens call returns at most (expired and revoked tokens stay listed for audit). */
export const LIST_LIMIT = 200;

// --- validators shared by the function wrappers -----------------------------

export const vTokenInfo = v.object({
  _id: v.id("apiTokens"),
  name: v.string(),
  type: vTokenType,
  description: v.union(v.string(), v.null()),
  scopes: v.array(vScopeEntry),
  status: vTokenStatus,
  createdAt: v.number(),
  expiresAt: v.number(),
  lastUsedAt: v.union(v.number(), v.null()),
  revokedAt: v.union(v.number(), v.null()),
  /** Last characters of the token text (model/tokenHints.ts); absent for tokens made before it existed. */
  hint: v.optional(v.string()),
});
export type TokenInfo = Infer<typeof vTokenInfo>;

export const vTokenDetails = v.object({
  ...vTokenInfo.fields,
  lastUsedIp: v.union(v.string(), v.null()),
  lastUsedUserAgent: v.union(v.string(), v.null()),
});
export type TokenDetails = Infer<typeof vTokenDetails>;

/** What creating a PAT takes: `auth:createApiToken` and the HTTP/MCP `create_pat` operation. */
export const createTokenArgs = {
  name: v.string(),
  scopes: v.array(vScopeInput),
  expiresIn: v.optional(v.number()),
  description: v.optional(v.string()),
  type: v.optional(vTokenType),
};

export const vCreatedToken = v.object({
  token: v.string(),
  tokenId: v.id("apiTokens"),
  name: v.string(),
  scopes: v.array(vScopeEntry),
  expiresAt: v.number(),
  warnings: v.optional(v.array(v.string())),
});

export const vRevokeResult = v.object({
  tokenId: v.id("apiTokens"),
  revokedAt: v.number(),
  /** False when the token was already revoked (nothing changed). */
  changed: v.boolean(),
  /** Live agent sessions minted from this PAT that ended with it. */
  sessionsEnded: v.number(),
});

// --- presentation -------------------------------------------------------------

export function toTokenInfo(t: Doc<"apiTokens">, now: number): TokenInfo {
  return {
    _id: t._id,
    name: t.name,
    type: t.type,
    description: t.description ?? null,
    scopes: t.scopes,
    status: tokenStatus(t, now),
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt ?? null,
    revokedAt: t.revokedAt ?? null,
    ...(t.hint !== undefined ? { hint: t.hint } : {}),
  };
}

export function toTokenDetails(t: Doc<"apiTokens">, now: number): TokenDetails {
  return {
    ...toTokenInfo(t, now),
    lastUsedIp: t.lastUsedIp ?? null,
    lastUsedUserAgent: t.lastUsedUserAgent ?? null,
  };
}

// --- validation ---------------------------------------------------------------

export type CreateTokenArgs = {
  name: string;
  scopes: ScopeInput[];
  expiresIn?: number;
  description?: string;
  type?: "PAT" | "MCP";
};

export function validateName(name: string): string {
  if (!isTokenName(name)) {
    throw keyholeError(
      "invalid_argument",
      `token name must be 1-64 characters of letters, digits, "_" and "-" (got ${JSON.stringify(name.slice(0, 80))})`,
    );
  }
  return name;
}

export function validateDescription(description: string | undefined): string | undefined {
  if (description === undefined) return undefined;
  if (description.length > MAX_DESCRIPTION) {
    throw keyholeError("invalid_argument", `description must be at most ${MAX_DESCRIPTION} characters (got ${description.length})`);
  }
  return description.length === 0 ? undefined : description;
}

export function validateExpiresIn(expiresIn: number | undefined): number {
  if (expiresIn === undefined) return DEFAULT_EXPIRES_IN_S;
  if (!Number.isInteger(expiresIn) || expiresIn < MIN_EXPIRES_IN_S || expiresIn > MAX_EXPIRES_IN_S) {
    throw keyholeError(
      "invalid_argument",
      `expiresIn is in whole seconds, from ${MIN_EXPIRES_IN_S} (1 minute) to ${MAX_EXPIRES_IN_S} (365 days); ` +
        `default ${DEFAULT_EXPIRES_IN_S} (30 days)`,
    );
  }
  return expiresIn;
}

/** Syntax (normalizeScopes) + rules that only apply to tokens; ScopeError → invalid_argument. */
export function validateScopeSyntax(input: ScopeInput[]): { entries: ScopeEntry[]; warnings: string[] } {
  let result;
  try {
    result = normalizeScopes(input);
  } catch (e) {
    if (e instanceof ScopeError) throw keyholeError("invalid_argument", e.message);
    throw e;
  }
  for (const e of result.entries) {
    if (e.resource === undefined) continue;
    const personal = e.permissions.filter((p) => PERSONAL_PERMISSIONS.has(p as Permission));
    if (personal.length > 0) {
      throw keyholeError(
        "invalid_argument",
        `${personal.join(", ")} concern${personal.length === 1 ? "s" : ""} your own account, not an organization: ` +
          `list ${personal.length === 1 ? "it" : "them"} without a resource (e.g. "${personal[0]}")`,
      );
    }
  }
  return result;
}

/**
 * Every org/workspace a scope entry names must exist and have the user as a
 * member. Missing and not-a-member read the same, so names don't leak.
 * Granting more than the role is allowed and harmless: effective permission
 * is always scopes ∩ the owner's current role.
 */
export async function checkScopeResources(ctx: QueryCtx, userId: Id<"users">, entries: ScopeEntry[]): Promise<void> {
  const checked = new Set<string>();
  for (const e of entries) {
    if (e.resource === undefined || checked.has(e.resource)) continue;
    checked.add(e.resource);
    const target = parseResource(e.resource)!; // normalizeScopes validated it
    const refusal = keyholeError(
      "invalid_argument",
      `scope resource "${e.resource}": no such ${target.workspace ? "workspace" : "organization"} that you are a member of`,
    );
    const org = await ctx.db
      .query("orgs")
      .withIndex("by_slug", (q) => q.eq("slug", target.org!))
      .unique();
    if (org === null) throw refusal;
    const membership = await ctx.db
      .query("memberships")
      .withIndex("by_user_org", (q) => q.eq("userId", userId).eq("orgId", org._id))
      .unique();
    if (membership === null) throw refusal;
    if (target.workspace !== undefined) {
      const ws = await ctx.db
        .query("workspaces")
        .withIndex("by_org_slug", (q) => q.eq("orgId", org._id).eq("slug", target.workspace!))
        .unique();
      if (ws === null) throw refusal;
    }
  }
}

// --- lifecycle ----------------------------------------------------------------

export async function createToken(ctx: UserMutationCtx, args: CreateTokenArgs) {
  const user = ctx.user;
  const name = validateName(args.name);
  const description = validateDescription(args.description);
  const expiresIn = validateExpiresIn(args.expiresIn);
  const type = args.type ?? "PAT";
  const { entries, warnings } = validateScopeSyntax(args.scopes);
  await checkScopeResources(ctx, user.userId, entries);

  const now = Date.now();
  // Whole seconds, so the record and the JWT `exp` agree exactly.
  const expiresAt = Math.floor((now + expiresIn * 1000) / 1000) * 1000;

  const sameName = await ctx.db
    .query("apiTokens")
    .withIndex("by_user_name_status", (q) =>
      q.eq("userId", user.userId).eq("name", name).eq("revokedAt", undefined).gt("expiresAt", now),
    )
    .first();
  if (sameName !== null) {
    throw keyholeError("conflict", `you already have an active token named "${name}": pick another name or revoke it first`);
  }
  await requireRoomForToken(ctx, user.userId, now);
  await enforce(ctx, `token-create:${user.userId}`, LIMITS.tokenCreate, "tokens created");

  const { tokenId, token } = await insertSignedPat(ctx, {
    userId: user.userId,
    name,
    description,
    type,
    scopes: entries,
    createdAt: now,
    expiresAt,
  });

  await logAudit(ctx, {
    userId: user.userId,
    action: "token.created",
    actor: actorOf(user),
    targetType: "apiToken",
    targetId: tokenId,
    details: `name=${name} type=${type} expiresAt=${new Date(expiresAt).toISOString()} scopes=${formatScopes(entries).join(" ")}`,
  });

  // governance: warn at once when an org's token policy would refuse this token
  warnings.push(...(await policyWarnings(ctx, user.userId, { scopes: entries, lifetimeMs: expiresAt - now, type })));
  return {
    token,
    tokenId,
    name,
    scopes: entries,
    expiresAt,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/**
 * Stores a new PAT and signs it: the row first (its id is the JWT's jti),
 * then the signature, then the hash, key id and binding (without the binding
 * any token signed for this record would pass: model/keyTrust.ts).
 */
export async function insertSignedPat(
  ctx: MutationCtx,
  fields: Pick<Doc<"apiTokens">, "userId" | "name" | "description" | "type" | "scopes" | "createdAt" | "expiresAt">,
): Promise<{ tokenId: Id<"apiTokens">; token: string }> {
  const tokenId = await ctx.db.insert("apiTokens", { ...fields, tokenHash: "", keyId: "" });
  const now = fields.createdAt;
  const { token, keyId, bindingHash } = await signKeyholeToken({ kind: "pat", id: tokenId, expiresAt: fields.expiresAt, now });
  await ctx.db.patch("apiTokens", tokenId, { tokenHash: await sha256Hex(token), keyId, bindingHash });
  return { tokenId, token };
}

/**
 * The system revokes a PAT (an org's unused-token policy, a compromised
 * signing key): the record, then its child sessions (`endChildren`), then
 * "token.revoked" in the owner's log (which also raises the token.revoked
 * webhook: model/governance/events.ts).
 */
export async function revokeAsSystem(
  ctx: MutationCtx,
  t: Doc<"apiTokens">,
  r: { now: number; reason: string; details: string },
  endChildren: (tokenId: Id<"apiTokens">) => Promise<void>,
): Promise<void> {
  await ctx.db.patch("apiTokens", t._id, { revokedAt: r.now, revokedReason: r.reason });
  await endChildren(t._id);
  await logAudit(ctx, {
    userId: t.userId,
    action: "token.revoked",
    actor: { kind: "system" },
    targetType: "apiToken",
    targetId: t._id,
    details: r.details,
  });
}

export type StatusFilter = TokenStatus | "all";

/** The caller's tokens, newest first, at most LIST_LIMIT (all active ones always fit). */
export async function listTokens(ctx: UserQueryCtx, status: StatusFilter = "all"): Promise<TokenInfo[]> {
  const user = ctx.user;
  const now = Date.now();
  const userId = user.userId;
  let rows: Doc<"apiTokens">[];
  switch (status) {
    case "all":
      rows = await ctx.db
        .query("apiTokens")
        .withIndex("by_user", (q) => q.eq("userId", userId))
        .order("desc")
        .take(LIST_LIMIT);
      break;
    case "active":
      rows = await ctx.db
        .query("apiTokens")
        .withIndex("by_user_status", (q) => q.eq("userId", userId).eq("revokedAt", undefined).gt("expiresAt", now))
        .order("desc")
        .take(LIST_LIMIT);
      break;
    case "expired":
      rows = await ctx.db
        .query("apiTokens")
        .withIndex("by_user_status", (q) => q.eq("userId", userId).eq("revokedAt", undefined).lte("expiresAt", now))
        .order("desc")
        .take(LIST_LIMIT);
      break;
    case "revoked":
      rows = await ctx.db
        .query("apiTokens")
        .withIndex("by_user_status", (q) => q.eq("userId", userId).gt("revokedAt", 0))
        .order("desc")
        .take(LIST_LIMIT);
      break;
  }
  return rows.sort((a, b) => b._creationTime - a._creationTime).map((t) => toTokenInfo(t, now));
}

/** One of the caller's tokens; someone else's reads as not found. */
export async function ownToken(ctx: QueryCtx, user: UserPrincipal, tokenId: string): Promise<Doc<"apiTokens">> {
  const id = ctx.db.normalizeId("apiTokens", tokenId);
  const token = id === null ? null : await ctx.db.get("apiTokens", id);
  if (token === null || token.userId !== user.userId) {
    throw keyholeError("not_found", `no token with id "${tokenId.slice(0, 64)}"`);
  }
  return token;
}

export async function getToken(ctx: UserQueryCtx, tokenId: string): Promise<TokenDetails> {
  const user = ctx.user;
  return toTokenDetails(await ownToken(ctx, user, tokenId), Date.now());
}

/** Live child sessions ended per transaction; the rest continue in a scheduled mutation. */
export const CHILD_SESSION_BATCH = 256;

/** Ends live agent sessions minted from `tokenId`; true when some may remain. */
export async function endChildSessions(
  ctx: MutationCtx,
  tokenId: Id<"apiTokens">,
  now: number,
): Promise<{ ended: number; more: boolean }> {
  const live = await ctx.db
    .query("agentSessions")
    .withIndex("by_parent_live", (q) => q.eq("parentTokenId", tokenId).eq("endedAt", undefined))
    .take(CHILD_SESSION_BATCH);
  for (const s of live) {
    await ctx.db.patch("agentSessions", s._id, { endedAt: now, endReason: "parent_revoked" });
  }
  return { ended: live.length, more: live.length === CHILD_SESSION_BATCH };
}

/**
 * Revokes one of the caller's tokens and, in the same transaction, ends every
 * live agent session minted from it. Revoking a revoked token changes nothing
 * and succeeds (`changed: false`). Returns `more` when child sessions remain
 * to be ended by a scheduled continuation (more than CHILD_SESSION_BATCH).
 */
export async function revokeToken(ctx: UserMutationCtx, tokenId: string, reason = "revoked by owner") {
  const user = ctx.user;
  const token = await ownToken(ctx, user, tokenId);
  if (token.revokedAt !== undefined) {
    return { tokenId: token._id, revokedAt: token.revokedAt, changed: false, sessionsEnded: 0, more: false };
  }
  const now = Date.now();
  await ctx.db.patch("apiTokens", token._id, { revokedAt: now, revokedReason: reason.slice(0, 200) });
  const { ended, more } = await endChildSessions(ctx, token._id, now);
  await logAudit(ctx, {
    userId: user.userId,
    action: "token.revoked",
    actor: actorOf(user),
    targetType: "apiToken",
    targetId: token._id,
    details: `name=${token.name} sessionsEnded=${ended}${more ? "+" : ""}`,
  });
  return { tokenId: token._id, revokedAt: now, changed: true, sessionsEnded: ended, more };
}

// --- viewer -----------------------------------------------------------------

export const vViewer = v.object({
  kind: v.union(v.literal("user"), v.literal("pat"), v.literal("agent")),
  userId: v.id("users"),
  tokenId: v.optional(v.id("apiTokens")),
  sessionId: v.optional(v.id("agentSessions")),
  agentId: v.optional(v.string()),
});

export function viewerOf(p: Principal): Infer<typeof vViewer> {
  switch (p.kind) {
    case "user":
      return { kind: "user", userId: p.userId };
    case "pat":
      return { kind: "pat", userId: p.userId, tokenId: p.tokenId };
    case "agent":
      return {
        kind: "agent",
        userId: p.userId,
        sessionId: p.sessionId,
        agentId: p.session.agentId,
      };
  }
}

/** Refuses a new PAT (create or regenerate) when its owner already has the most active ones allowed. */
export async function requireRoomForToken(ctx: QueryCtx, userId: Id<"users">, now: number): Promise<void> {
  const active = await ctx.db
    .query("apiTokens")
    .withIndex("by_user_status", (q) => q.eq("userId", userId).eq("revokedAt", undefined).gt("expiresAt", now))
    .take(MAX_ACTIVE_TOKENS);
  if (active.length >= MAX_ACTIVE_TOKENS) {
    throw keyholeError("conflict", `you have ${MAX_ACTIVE_TOKENS} active tokens, the most allowed: revoke some first`);
  }
}
