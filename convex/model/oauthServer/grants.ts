/**
 * Grants: what a person approved for a client. Each grant is one agent-session
 * family (agentSessions.ts): the access token is the family's live session
 * token, the refresh token its refresh token. The grant row, found by the
 * family id (which never changes across refreshes), adds the client and the
 * audience:
 *
 * - audienceAllows(): RFC 8707 — a token issued for `<site>/mcp` is refused by
 *   `<site>/api` and the other way round (checked by the HTTP layer on every
 *   request, authn.ts). Sessions that are no OAuth grant have no audience.
 * - connected apps for the dashboard; "disconnect" ends the family at once.
 */
import { v, type Infer } from "convex/values";
import type { Doc } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { endFamily } from "../agentSessions";
import { actorOf, type AuditActor, logAudit } from "../audit";
import { keyholeError } from "../errors";
import { vScopeEntry } from "../../validators";
import { resourceUrl } from "./config";
import type { UserMutationCtx, UserQueryCtx } from "../functions";
import { deleteBatch } from "../purge";

const LIST_MAX = 200;
/** Grant rows are kept this long after their family's absolute lifetime (for the audit trail), then deleted. */
const KEEP_AFTER_MS = 7 * 24 * 3600_000;

export async function grantByFamily(ctx: QueryCtx, familyId: string): Promise<Doc<"oauthGrants"> | null> {
  return await ctx.db
    .query("oauthGrants")
    .withIndex("by_family", (q) => q.eq("familyId", familyId))
    .unique();
}

/**
 * Whether a session may be used at `resource`: always, unless it is an OAuth
 * grant for another resource. Its rows carry the grant's resource
 * (agentSessions.audience), so this reads nothing.
 */
export function audienceAllows(session: Doc<"agentSessions">, resource: string): boolean {
  return session.audience === undefined || session.audience === resource;
}

/** Ends a grant: its family's live sessions end now (next request refused), the grant is marked revoked. */
export async function endGrant(
  ctx: MutationCtx,
  grant: Doc<"oauthGrants">,
  reason: string,
  actor: AuditActor,
): Promise<number> {
  const now = Date.now();
  const ended = await endFamily(ctx, grant.familyId, reason, now);
  if (grant.revokedAt === undefined) await ctx.db.patch("oauthGrants", grant._id, { revokedAt: now, revokedReason: reason });
  await logAudit(ctx, {
    userId: grant.userId,
    action: "oauth.grant_revoked",
    actor,
    targetType: "oauthGrant",
    targetId: grant._id,
    details: `client=${grant.clientName.slice(0, 80)} reason=${reason} sessionsEnded=${ended}`,
  });
  return ended;
}

export const vConnectedApp = v.object({
  grantId: v.id("oauthGrants"),
  clientId: v.string(),
  clientName: v.string(),
  clientKind: v.union(v.literal("dcr"), v.literal("cimd")),
  /** For a metadata-document client: the host that vouches for its identity. */
  host: v.union(v.string(), v.null()),
  resource: v.string(),
  resourceName: v.string(),
  permissions: v.array(v.string()),
  scopes: v.array(vScopeEntry),
  createdAt: v.number(),
  lastUsedAt: v.union(v.number(), v.null()),
  expiresAt: v.number(),
});
export type ConnectedApp = Infer<typeof vConnectedApp>;

/** The signed-in person's apps that hold live access, newest first. */
export async function listConnectedApps(ctx: UserQueryCtx): Promise<ConnectedApp[]> {
  const user = ctx.user;
  const now = Date.now();
  const grants = await ctx.db
    .query("oauthGrants")
    .withIndex("by_user", (q) => q.eq("userId", user.userId).eq("revokedAt", undefined).gt("familyExpiresAt", now))
    .take(LIST_MAX);
  const out: ConnectedApp[] = [];
  for (const g of grants) {
    const live = await ctx.db
      .query("agentSessions")
      .withIndex("by_family", (q) => q.eq("familyId", g.familyId).eq("endedAt", undefined))
      .take(10);
    if (live.length === 0) continue; // ended elsewhere (sessions panel, reuse detected)
    const seen = live.map((s) => s.lastSeenAt ?? 0).reduce((a, b) => Math.max(a, b), 0);
    out.push({
      grantId: g._id,
      clientId: g.clientId,
      clientName: g.clientName,
      clientKind: g.clientKind,
      host: g.clientKind === "cimd" ? new URL(g.clientId).host : null,
      resource: g.resource,
      resourceName: g.resource === resourceUrl("api") ? "HTTP API" : "MCP",
      permissions: g.permissions,
      scopes: g.scopes,
      createdAt: g.createdAt,
      lastUsedAt: seen > 0 ? seen : null,
      expiresAt: g.familyExpiresAt,
    });
  }
  return out.sort((a, b) => b.createdAt - a.createdAt);
}

/** "Disconnect" in the dashboard: the person's own grant only (another's reads as missing). */
export async function disconnectApp(ctx: UserMutationCtx, grantId: string): Promise<{ sessionsEnded: number }> {
  const user = ctx.user;
  const id = ctx.db.normalizeId("oauthGrants", grantId);
  const grant = id === null ? null : await ctx.db.get("oauthGrants", id);
  if (grant === null || grant.userId !== user.userId) throw keyholeError("not_found", "no such connected app");
  return { sessionsEnded: await endGrant(ctx, grant, "disconnected", actorOf(user)) };
}

/** Deletes grant rows long past their family's lifetime; returns whether more remain. */
export async function reapGrants(ctx: MutationCtx, now = Date.now(), batch = 200): Promise<boolean> {
  return await deleteBatch(ctx, "oauthGrants", (q) => q.withIndex("by_expiry", (i) => i.lt("familyExpiresAt", now - KEEP_AFTER_MS)), batch);
}

