/**
 * The org-wide token view: every PAT and live agent session that can reach
 * an org (its owner is a member and its scopes reach the org), for the org's
 * owners and admins (org:configure), and their revoke. Never a secret: ids,
 * names, scope entries, status, times.
 */
import type { PaginationOptions } from "convex/server";
import type { Doc } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { internal } from "../../_generated/api";
import { endFamily } from "../agentSessions";
import { actorOf, logAudit } from "../audit";
import { authorize, authorizePath, type Authorized, type Resource } from "../authorize";
import { keyholeError } from "../errors";
import { readPage } from "../pagination";
import { tokenStatus } from "../principal";
import { endChildSessions } from "../tokens";
import { emitEvent, patData, sessionData, sessionScopeSets } from "./events";
import { addNotice } from "./notices";
import { familyStart, isOAuthGrantSession, patFacts, sessionFacts, violations } from "./policy";
import { reachesOrg, reachingEntries } from "./reach";
import type { OrgToken } from "./validators";
import type { UserMutationCtx } from "../functions";

/** Members per page (each brings at most PER_MEMBER tokens and sessions). */
export const MEMBERS_PER_PAGE = 20;
export const PER_MEMBER = 100;

function entriesFor(sets: Doc<"apiTokens">["scopes"][], org: string) {
  const reaching = sets.map((s) => reachingEntries(s, org));
  const fullRole = reaching.every((r) => r === "full");
  return { fullRole, scopes: reaching.flatMap((r) => (r === "full" ? [] : r)) };
}

async function memberTokens(
  ctx: QueryCtx,
  org: Doc<"orgs">,
  m: Doc<"memberships">,
  status: "active" | "all",
  now: number,
): Promise<OrgToken[]> {
  const user = await ctx.db.get("users", m.userId);
  const owner = { userId: m.userId, email: user?.email ?? null, role: m.role };
  const pats =
    status === "active"
      ? await ctx.db
          .query("apiTokens")
          .withIndex("by_user_status", (q) => q.eq("userId", m.userId).eq("revokedAt", undefined).gt("expiresAt", now))
          .take(PER_MEMBER)
      : await ctx.db.query("apiTokens").withIndex("by_user", (q) => q.eq("userId", m.userId)).order("desc").take(PER_MEMBER);
  const sessions = await ctx.db
    .query("agentSessions")
    .withIndex("by_user", (q) => q.eq("userId", m.userId).eq("endedAt", undefined).gt("expiresAt", now))
    .take(PER_MEMBER);
  const byId = new Map(pats.map((t) => [t._id as string, t]));
  const out: OrgToken[] = [];
  for (const t of pats) {
    if (!reachesOrg([t.scopes], org.slug)) continue;
    out.push({
      tokenId: t._id, kind: "pat", owner, name: t.name, type: t.type, ...entriesFor([t.scopes], org.slug),
      status: tokenStatus(t, now), createdAt: t.createdAt, expiresAt: t.expiresAt, lastUsedAt: t.lastUsedAt ?? null,
      policyViolations: violations(org.tokenPolicy, patFacts(t)), parentTokenId: null,
    });
  }
  for (const s of sessions) {
    const sets = sessionScopeSets(s);
    if (!reachesOrg(sets, org.slug)) continue;
    const parent = s.parentTokenId ? (byId.get(s.parentTokenId) ?? (await ctx.db.get("apiTokens", s.parentTokenId))) : null;
    out.push({
      tokenId: s._id, kind: "agent", owner, name: s.agentId, type: "session", ...entriesFor(sets, org.slug),
      status: "active", createdAt: s.createdAt, expiresAt: s.expiresAt, lastUsedAt: s.lastSeenAt ?? null,
      policyViolations: violations(
        org.tokenPolicy,
        sessionFacts(s, parent, isOAuthGrantSession(s), parent ? undefined : await familyStart(ctx, s)),
      ),
      parentTokenId: s.parentTokenId ?? null,
    });
  }
  return out;
}

/** A page of members' credentials reaching the org (pages are by member; org:configure). */
export async function listOrgTokens(
  ctx: QueryCtx,
  args: { org: string; status?: "active" | "all"; paginationOpts?: PaginationOptions },
) {
  const { resource } = await authorizePath(ctx, "org:configure", args.org);
  const org = resource.org;
  const now = Date.now();
  const opts = args.paginationOpts ?? { numItems: MEMBERS_PER_PAGE, cursor: null };
  const members = await readPage(opts, MEMBERS_PER_PAGE, (o) =>
    ctx.db.query("memberships").withIndex("by_org", (q) => q.eq("orgId", org._id)).paginate(o),
  );
  const page: OrgToken[] = [];
  for (const m of members.page) page.push(...(await memberTokens(ctx, org, m, args.status ?? "active", now)));
  return { page, isDone: members.isDone, continueCursor: members.continueCursor };
}

type Found =
  | { kind: "pat"; doc: Doc<"apiTokens">; sets: Doc<"apiTokens">["scopes"][] }
  | { kind: "agent"; doc: Doc<"agentSessions">; sets: Doc<"apiTokens">["scopes"][] };

/** A credential of a member that reaches the org; anything else reads as not found. */
async function reachingCredential(ctx: QueryCtx, resource: Resource, tokenId: string) {
  const patId = ctx.db.normalizeId("apiTokens", tokenId);
  const sessionId = patId === null ? ctx.db.normalizeId("agentSessions", tokenId) : null;
  let found: Found | null = null;
  if (patId !== null) {
    const doc = await ctx.db.get("apiTokens", patId);
    if (doc !== null) found = { kind: "pat", doc, sets: [doc.scopes] };
  } else if (sessionId !== null) {
    const doc = await ctx.db.get("agentSessions", sessionId);
    if (doc !== null) found = { kind: "agent", doc, sets: sessionScopeSets(doc) };
  }
  const membership =
    found === null
      ? null
      : await ctx.db
          .query("memberships")
          .withIndex("by_user_org", (q) => q.eq("userId", found.doc.userId).eq("orgId", resource.org._id))
          .unique();
  if (found === null || membership === null || !reachesOrg(found.sets, resource.org.slug)) {
    throw keyholeError("not_found", `no token with id "${tokenId.slice(0, 64)}" reaches "${resource.org.slug}"`);
  }
  return { found, membership };
}

/**
 * Revokes a member's PAT (its child sessions end too) or ends an agent
 * session, because it reaches the org. A signed-in owner or admin
 * (org:configure); an owner's token needs org:admin. The owner gets a
 * notice, an audit event naming who revoked it and why, and webhooks.
 */
export async function revokeOrgToken(ctx: UserMutationCtx, args: { org: string; tokenId: string; reason?: string }) {
  const { principal, resource } = await authorizePath(ctx, "org:configure", args.org);
  const reason = (args.reason ?? "").trim().slice(0, 200);
  const { found, membership } = await reachingCredential(ctx, resource, args.tokenId);
  if (membership.role === "owner") await authorize(ctx, "org:admin", resource);
  const org = resource.org;
  const now = Date.now();
  const admin = await ctx.db.get("users", principal.userId);
  const by = `${admin?.email ?? principal.userId} (${principal.role} of ${org.slug})`;
  const why = `revoked by ${by}${reason ? `: ${reason}` : ""}`;
  let name: string;
  if (found.kind === "pat") {
    if (found.doc.revokedAt !== undefined) return { tokenId: found.doc._id as string, changed: false, sessionsEnded: 0 };
    name = found.doc.name;
    await ctx.db.patch("apiTokens", found.doc._id, { revokedAt: now, revokedReason: why.slice(0, 200) });
    const { ended, more } = await endChildSessions(ctx, found.doc._id, now);
    if (more) await ctx.scheduler.runAfter(0, internal.auth.endRevokedTokenSessions, { tokenId: found.doc._id });
    await afterRevoke(ctx, { org, principal, found, name, why, sessionsEnded: ended });
    return { tokenId: found.doc._id as string, changed: true, sessionsEnded: ended };
  }
  if (found.doc.endedAt !== undefined) return { tokenId: found.doc._id as string, changed: false, sessionsEnded: 0 };
  name = found.doc.agentId;
  const ended = await endFamily(ctx, found.doc.familyId, "revoked_by_org_admin", now);
  await afterRevoke(ctx, { org, principal, found, name, why, sessionsEnded: ended });
  return { tokenId: found.doc._id as string, changed: true, sessionsEnded: ended };
}

async function afterRevoke(
  ctx: MutationCtx,
  a: { org: Doc<"orgs">; principal: Authorized; found: Found; name: string; why: string; sessionsEnded: number },
) {
  const ownerId = a.found.doc.userId;
  const what = a.found.kind === "pat" ? `token "${a.name}"` : `agent session "${a.name}"`;
  const event = {
    action: "org.token_revoked",
    actor: actorOf(a.principal),
    targetType: a.found.kind === "pat" ? "apiToken" : "agentSession",
    targetId: a.found.doc._id,
    details: `org=${a.org.slug} ${what} owner=${ownerId} ${a.why} sessionsEnded=${a.sessionsEnded}`,
  };
  await logAudit(ctx, { ...event, userId: a.principal.userId });
  if (ownerId !== a.principal.userId) await logAudit(ctx, { ...event, userId: ownerId });
  await addNotice(ctx, {
    userId: ownerId,
    kind: "token.revoked_by_admin",
    subjectId: a.found.doc._id,
    message: `Your ${what} was ${a.why}.`,
  });
  const fresh = a.found.kind === "pat" ? await ctx.db.get("apiTokens", a.found.doc._id) : await ctx.db.get("agentSessions", a.found.doc._id);
  if (fresh === null) return;
  const data = {
    ...(a.found.kind === "pat" ? patData(fresh as Doc<"apiTokens">) : sessionData(fresh as Doc<"agentSessions">)),
    org: a.org.slug,
    revokedBy: a.principal.userId,
    reason: a.why,
  };
  await emitEvent(ctx, { type: "org.token_revoked", ownerId, scopeSets: null, orgIds: [a.org._id], data });
  await emitEvent(ctx, { type: "token.revoked", ownerId, scopeSets: a.found.sets, data });
}
