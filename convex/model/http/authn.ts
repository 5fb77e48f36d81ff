/**
 * The database side of authenticating an HTTP/MCP request (run by the
 * internal functions in convex/httpInternal.ts, as the request's identity):
 *
 * - authenticateRequest: resolves the principal through getPrincipal (the same
 *   record checks every Convex function makes), records last use (at most one
 *   write a minute), and answers who is calling; a revoked, expired or
 *   unknown credential is recorded as a failure instead.
 * - authenticateRead: the same check in a query, for the requests that have
 *   nothing to write (most of a busy credential's); anything else is left to
 *   authenticateRequest.
 * - recordFailure: failed authentications count per IP and per token id
 *   (LIMITS.authFailPerIp / authFailPerToken) and, where a record exists, are
 *   audited for its owner ("auth.failed", "token.used_after_revoke"). Only
 *   failing requests are counted or limited, so nobody's failures can block a
 *   valid token.
 * - introspect: RFC 7662 introspection (leaked-token reports: leakReport.ts).
 * - allowedPermissions: which permissions a credential may use somewhere (MCP
 *   tools/list).
 * - mcpRefusals: the orgs an MCP request reaches whose token policy refuses
 *   MCP clients, decided here once instead of one query per tool call.
 */
import { v, type Infer } from "convex/values";
import type { Doc } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { countRefusal } from "../activity";
import { logAudit } from "../audit";
import { authorize } from "../authorize";
import { constantTimeEqual } from "../crypto";
import { isKeyholeError } from "../errors";
import { KEYHOLE_AUDIENCE, keyholeIssuer, parseKeyholeSubject, type TokenKind } from "../keys";
import { checkMcpAllowed } from "../governance/policy";
import { type Permission, PERSONAL_PERMISSIONS, roleGrants } from "../permissions";
import { agentSessionLiveness, patLiveness } from "../liveness";
import { getPrincipal, type Principal, recordUse, requestInfo, requirePrincipal, scopeSets, useRecordDueAt } from "../principal";
import { consume, LIMITS } from "../rateLimit";
import { formatScopes, parseResource, type ScopeEntry, scopesAllow } from "../scopes";
import { audienceAllows } from "../oauthServer/grants";
import { vErrorCode, vScopeEntry } from "../../validators";

// --- validators ------------------------------------------------------------------

export const vTokenKind = v.union(v.literal("pat"), v.literal("agent"));

export const vWho = v.object({
  kind: v.union(v.literal("user"), v.literal("pat"), v.literal("agent")),
  userId: v.id("users"),
  email: v.union(v.string(), v.null()),
  tokenId: v.optional(v.id("apiTokens")),
  tokenName: v.optional(v.string()),
  sessionId: v.optional(v.id("agentSessions")),
  agentId: v.optional(v.string()),
  /** The credential's scope entries; [] = the owner's full role. Absent for a person. */
  scopes: v.optional(v.array(vScopeEntry)),
  /** A child session's parent PAT scopes (both must allow). */
  parentScopes: v.optional(v.array(vScopeEntry)),
  expiresAt: v.optional(v.number()),
});
export type Who = Infer<typeof vWho>;

/** An org an MCP request names that refuses it, and the error a tool call on it gets. */
export const vOrgRefusal = v.object({ org: v.string(), code: vErrorCode, message: v.string() });
export type OrgRefusal = Infer<typeof vOrgRefusal>;

/** The orgs an MCP request reaches: those its tool calls name, and (list_workspaces) the caller's. */
export const vMcpReach = v.object({ orgs: v.array(v.string()), memberOrgs: v.boolean() });
export type McpReach = Infer<typeof vMcpReach>;

const vAuthenticated = v.object({
  ok: v.literal(true),
  who: vWho,
  permissions: v.optional(v.array(v.string())),
  mcpRefusals: v.optional(v.array(vOrgRefusal)),
  /** When this credential's next use must be recorded (a write is due); absent: never. */
  useRecordDueAt: v.optional(v.number()),
});
type Authenticated = Infer<typeof vAuthenticated>;

export const vAuthOutcome = v.union(vAuthenticated, v.object({ ok: v.literal(false), retryAfterMs: v.number() }));
export type AuthOutcome = Infer<typeof vAuthOutcome>;

/** The read-only check's answer: authenticated with nothing to write, or "run the mutation". */
export const vReadOutcome = v.union(vAuthenticated, v.object({ ok: v.literal(false), writeDue: v.literal(true) }));
export type ReadOutcome = Infer<typeof vReadOutcome>;

export const vPresented = v.object({ kind: vTokenKind, id: v.string(), expired: v.boolean() });

// --- authentication ----------------------------------------------------------------

const CREDENTIAL_FAILURES = new Set(["unauthenticated", "expired", "revoked"]);

/**
 * The current identity as a principal, last use recorded; or the failure,
 * counted and audited, with how long a client that keeps failing must wait.
 */
export async function authenticateRequest(
  ctx: MutationCtx,
  opts: { permissions?: Permission[]; resource?: string; mcp?: McpReach },
): Promise<AuthOutcome> {
  let p: Principal | null;
  try {
    p = await getPrincipal(ctx);
  } catch (e) {
    if (!isKeyholeError(e) || !CREDENTIAL_FAILURES.has(e.data.code)) throw e;
    const identity = await ctx.auth.getUserIdentity();
    const sub = identity !== null && identity.issuer === keyholeIssuer() ? parseKeyholeSubject(identity.subject) : null;
    const retryAfterMs = await recordFailure(ctx, sub ? { ...sub, expired: e.data.code === "expired" } : null);
    return { ok: false, retryAfterMs };
  }
  if (p === null) return { ok: false, retryAfterMs: await recordFailure(ctx, null) };
  if (p.kind === "agent" && opts.resource !== undefined && !audienceAllows(p.session, opts.resource)) {
    // an OAuth access token issued for another of keyhole's resources (RFC 8707)
    return { ok: false, retryAfterMs: await recordFailure(ctx, { kind: "agent", id: p.sessionId, expired: false }) };
  }
  await recordUse(ctx, p);
  return await answer(ctx, p, opts);
}

/**
 * The same check as authenticateRequest, read-only (a query): the answer when
 * the credential is good and nothing is due to be written; otherwise
 * `writeDue` — a failure to count and audit, or a use to record — and the
 * caller runs authenticateRequest, which decides afresh. Most requests of a
 * busy credential end here and write nothing.
 */
export async function authenticateRead(
  ctx: QueryCtx,
  opts: { permissions?: Permission[]; resource?: string; mcp?: McpReach },
): Promise<ReadOutcome> {
  const due = { ok: false as const, writeDue: true as const };
  let p: Principal | null;
  try {
    p = await getPrincipal(ctx);
  } catch (e) {
    if (!isKeyholeError(e) || !CREDENTIAL_FAILURES.has(e.data.code)) throw e;
    return due;
  }
  if (p === null) return due;
  if (p.kind === "agent" && opts.resource !== undefined && !audienceAllows(p.session, opts.resource)) return due;
  const dueAt = useRecordDueAt(p);
  const now = Date.now();
  if (dueAt !== null && now >= dueAt) return due;
  if (now >= recordExpiresAt(p) - CACHED_READ_MARGIN_MS) return due;
  return await answer(ctx, p, opts);
}

/**
 * On Convex a query that read the clock may be answered from its cache for up
 * to ~17 s (MAX_CACHE_AGE = user + system UDF timeout + 1 s,
 * get-convex/convex-backend crates/application/src/cache/mod.rs). A record's
 * expiry can come before its token's `exp` (a regenerated PAT's grace end,
 * and its child sessions), which Convex does not check for us, so near such
 * an expiry the read-only answer is not given: the mutation (never cached)
 * decides.
 */
const CACHED_READ_MARGIN_MS = 30_000;

/** When `p`'s record stops being live by time alone (a person's sign-in: not checked here). */
function recordExpiresAt(p: Principal): number {
  if (p.kind === "pat") return p.token.expiresAt;
  if (p.kind === "agent") return Math.min(p.session.expiresAt, p.parent?.expiresAt ?? Number.POSITIVE_INFINITY);
  return Number.POSITIVE_INFINITY;
}

/** Who `p` is, and what `opts` asked about it. */
async function answer(
  ctx: QueryCtx,
  p: Principal,
  opts: { permissions?: Permission[]; mcp?: McpReach },
): Promise<Authenticated> {
  const dueAt = useRecordDueAt(p);
  return {
    ok: true,
    who: await whoOf(ctx, p),
    ...(opts.permissions === undefined ? {} : { permissions: await allowedPermissions(ctx, p, opts.permissions) }),
    ...(opts.mcp === undefined ? {} : { mcpRefusals: await mcpRefusals(ctx, p, opts.mcp) }),
    ...(dueAt === null ? {} : { useRecordDueAt: dueAt }),
  };
}

async function whoOf(ctx: QueryCtx, p: Principal): Promise<Who> {
  const user = await ctx.db.get("users", p.userId);
  const email = user?.email ?? null;
  switch (p.kind) {
    case "user":
      return { kind: "user", userId: p.userId, email };
    case "pat":
      return {
        kind: "pat",
        userId: p.userId,
        email,
        tokenId: p.tokenId,
        tokenName: p.token.name,
        scopes: p.token.scopes,
        expiresAt: p.token.expiresAt,
      };
    case "agent":
      return {
        kind: "agent",
        userId: p.userId,
        email,
        sessionId: p.sessionId,
        agentId: p.session.agentId,
        scopes: p.session.scopes,
        ...(p.session.parentScopes ? { parentScopes: p.session.parentScopes } : {}),
        expiresAt: p.session.expiresAt,
      };
  }
}

export type CredentialRecord =
  | { kind: "pat"; doc: Doc<"apiTokens">; live: boolean; revoked: boolean }
  | { kind: "agent"; doc: Doc<"agentSessions">; live: boolean; revoked: boolean };

/** The record a presented token names, and whether it is live by the one rule (liveness.ts). */
export async function credentialRecord(ctx: QueryCtx, kind: TokenKind, id: string): Promise<CredentialRecord | null> {
  const now = Date.now();
  if (kind === "pat") {
    const tokenId = ctx.db.normalizeId("apiTokens", id);
    const doc = tokenId ? await ctx.db.get("apiTokens", tokenId) : null;
    if (doc === null) return null;
    const live = patLiveness(doc, now);
    return { kind, doc, live: live.status === "active", revoked: live.status === "revoked" };
  }
  const sessionId = ctx.db.normalizeId("agentSessions", id);
  const doc = sessionId ? await ctx.db.get("agentSessions", sessionId) : null;
  if (doc === null) return null;
  // A child of a revoked PAT is dead now, even before its row is ended.
  const live = await agentSessionLiveness(ctx, doc, now);
  return { kind, doc, live: live.status === "active", revoked: live.status === "revoked" };
}

/**
 * Counts one failed authentication against the client's IP and, when the
 * presented token is one of ours, against its id; audits it for the owner
 * (at most LIMITS.authFailPerToken events a window per token). Returns the
 * wait (ms) when either limit was already reached, else 0.
 */
export async function recordFailure(
  ctx: MutationCtx,
  presented: { kind: TokenKind; id: string; expired: boolean } | null,
): Promise<number> {
  const info = await requestInfo(ctx);
  const ipWait = await consume(ctx, `auth-fail:ip:${info.ip ?? "unknown"}`, LIMITS.authFailPerIp);
  if (presented === null) return ipWait;
  const tokenWait = await consume(ctx, `auth-fail:token:${presented.id}`, LIMITS.authFailPerToken);
  if (tokenWait === 0) {
    const rec = await credentialRecord(ctx, presented.kind, presented.id);
    if (rec !== null) {
      const reason = rec.revoked ? (rec.kind === "pat" ? "revoked" : "ended") : presented.expired || !rec.live ? "expired" : "invalid";
      await logAudit(ctx, {
        userId: rec.doc.userId,
        action: rec.revoked ? "token.used_after_revoke" : "auth.failed",
        actor: { kind: presented.kind, id: rec.doc._id },
        targetType: rec.kind === "pat" ? "apiToken" : "agentSession",
        targetId: rec.doc._id,
        details: `reason=${reason}${rec.kind === "pat" ? ` name=${rec.doc.name}` : ` agentId=${rec.doc.agentId}`}`,
        ip: info.ip,
        userAgent: info.userAgent,
      });
      if (rec.kind === "pat") await countRefusal(ctx, rec.doc.userId, rec.doc._id, Date.now()); // activity chart (model/activity.ts)
    }
  }
  return Math.max(ipWait, tokenWait);
}

// --- permissions for MCP tools/list --------------------------------------------------

/** Whether one scope list allows `permission` on the org or on any of its workspaces it names. */
function allowsSomewhereInOrg(entries: ScopeEntry[], permission: Permission, org: string): boolean {
  if (scopesAllow(entries, permission, { org })) return true;
  return entries.some((e) => {
    const t = e.resource === undefined ? null : parseResource(e.resource);
    return t !== null && t.org === org && t.workspace !== undefined && scopesAllow(entries, permission, t);
  });
}

/**
 * The subset of `permissions` this credential may use somewhere: a personal
 * permission when its scopes allow it; an org permission when some org the
 * owner belongs to grants it by role AND every scope list of the credential
 * allows it on that org or one of its workspaces. A coarse upper bound (the
 * exact check runs per call); used to list only callable MCP tools.
 */
export async function allowedPermissions(
  ctx: QueryCtx,
  p: Principal,
  permissions: Permission[],
): Promise<Permission[]> {
  const sets = scopeSets(p);
  const memberships = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", p.userId))
    .take(200);
  const orgs = await Promise.all(memberships.map((m) => ctx.db.get("orgs", m.orgId)));
  return permissions.filter((perm) => {
    if (PERSONAL_PERMISSIONS.has(perm)) return sets.every((s) => scopesAllow(s, perm, {}));
    return memberships.some((m, i) => {
      const org = orgs[i];
      return org !== null && roleGrants(m.role, perm) && sets.every((s) => allowsSomewhereInOrg(s, perm, org.slug));
    });
  });
}

// --- the token policy for MCP clients --------------------------------------------------

/** Most orgs one person belongs to (model/orgs.ts MAX_ORGS_PER_USER), with room. */
const MAX_MEMBER_ORGS = 200;

/**
 * The orgs of `reach` whose token policy refuses this MCP client, each with
 * the error its tool calls get (governance checkMcpAllowed: the same answer
 * the check gave when it ran before each tool call). With `memberOrgs`, also
 * every org list_workspaces may visit: the caller's, and those its scopes name.
 */
async function mcpRefusals(ctx: QueryCtx, p: Principal, reach: McpReach): Promise<OrgRefusal[]> {
  const orgs = new Set(reach.orgs);
  if (reach.memberOrgs) {
    const memberships = await ctx.db
      .query("memberships")
      .withIndex("by_user_org", (q) => q.eq("userId", p.userId))
      .take(MAX_MEMBER_ORGS);
    for (const m of memberships) {
      const org = await ctx.db.get("orgs", m.orgId);
      if (org !== null) orgs.add(org.slug);
    }
    for (const e of scopeSets(p).flat()) {
      const org = e.resource?.split("/")[0];
      if (org) orgs.add(org);
    }
  }
  const out: OrgRefusal[] = [];
  for (const org of orgs) {
    try {
      await checkMcpAllowed(ctx, p, org);
    } catch (e) {
      if (!isKeyholeError(e)) throw e;
      out.push({ org, code: e.data.code, message: e.data.message });
    }
  }
  return out;
}

// --- introspection (RFC 7662) ----------------------------------------------------

export const vIntrospection = v.union(
  v.object({ active: v.literal(false) }),
  v.object({
    active: v.literal(true),
    token_type: v.literal("Bearer"),
    kind: vTokenKind,
    scope: v.string(),
    scopes: v.array(vScopeEntry),
    parent_scopes: v.optional(v.array(vScopeEntry)),
    exp: v.number(),
    iat: v.number(),
    sub: v.string(),
    jti: v.string(),
    iss: v.string(),
    aud: v.string(),
    username: v.optional(v.string()),
    name: v.optional(v.string()),
    agent_id: v.optional(v.string()),
  }),
);
export type Introspection = Infer<typeof vIntrospection>;

/**
 * Introspects a keyhole token whose signature the HTTP action verified.
 * The caller may always introspect the credential it presents; any other
 * token needs `tokens:read` (checked before the target is looked at, so the
 * answer to a caller without it never depends on the target). Tokens of
 * other people, and inactive ones, are `{active: false}` and nothing more.
 */
export async function introspect(
  ctx: QueryCtx,
  t: { kind: TokenKind; id: string; tokenHash: string },
): Promise<Introspection> {
  const p = await requirePrincipal(ctx);
  const self = (t.kind === "pat" && p.kind === "pat" && p.tokenId === t.id) ||
    (t.kind === "agent" && p.kind === "agent" && p.sessionId === t.id);
  if (!self) await authorize(ctx, "tokens:read");
  const rec = await credentialRecord(ctx, t.kind, t.id);
  if (rec === null || !rec.live || rec.doc.userId !== p.userId || !constantTimeEqual(rec.doc.tokenHash, t.tokenHash)) {
    return { active: false };
  }
  const user = await ctx.db.get("users", rec.doc.userId);
  const scopes = rec.doc.scopes;
  const common = {
    active: true as const,
    token_type: "Bearer" as const,
    kind: t.kind,
    scope: scopeString(scopes),
    scopes,
    exp: Math.floor(rec.doc.expiresAt / 1000),
    iat: Math.floor(rec.doc.createdAt / 1000),
    sub: `${t.kind}:${rec.doc._id}`,
    jti: rec.doc._id as string,
    iss: keyholeIssuer(),
    aud: KEYHOLE_AUDIENCE,
    ...(user?.email ? { username: user.email } : {}),
  };
  if (rec.kind === "pat") return { ...common, name: rec.doc.name };
  return {
    ...common,
    agent_id: rec.doc.agentId,
    ...(rec.doc.parentScopes ? { parent_scopes: rec.doc.parentScopes } : {}),
  };
}

/** RFC 7662 `scope`: space-separated shorthand, "*" for the full role. */
function scopeString(entries: ScopeEntry[]): string {
  return formatScopes(entries.map((e) => ({ resource: e.resource, permissions: e.permissions })))
    .map((s) => s.replace(/\s+/g, ""))
    .join(" ");
}
