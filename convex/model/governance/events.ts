/**
 * Webhook events: who hears about what. An event about a credential goes to
 * its owner's endpoints and to the endpoints of every org the credential
 * reaches (the owner is a member and its scopes reach the org), plus any org
 * named explicitly (org.token_revoked). Each endpoint subscribed to the type
 * gets one delivery row and a scheduled send (model/governance/webhooks.ts).
 *
 * Payloads follow the Standard Webhooks shape `{type, timestamp, data}` and
 * carry ids, names, reasons and times — never a token, a hash or a secret.
 */
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx } from "../../_generated/server";
import type { ScopeEntry } from "../scopes";
import { reachesOrg } from "./reach";
import type { WebhookEventType } from "./validators";
import { enqueueDelivery, MAX_ENDPOINTS_PER_OWNER } from "./webhooks";

/** Most orgs one person belongs to (model/orgs.ts MAX_ORGS_PER_USER). */
const MAX_ORGS = 100;

export type EventData = Record<string, string | number | boolean | null>;

export type CredentialEvent = {
  type: WebhookEventType;
  ownerId: Id<"users">;
  /** The credential's scope lists (for the orgs it reaches); null = only `orgIds` and the owner. */
  scopeSets: ScopeEntry[][] | null;
  orgIds?: Id<"orgs">[];
  data: EventData;
};

async function orgEndpoints(ctx: MutationCtx, orgId: Id<"orgs">): Promise<Doc<"webhookEndpoints">[]> {
  return await ctx.db
    .query("webhookEndpoints")
    .withIndex("by_org", (q) => q.eq("orgId", orgId))
    .take(MAX_ENDPOINTS_PER_OWNER);
}

/** Every endpoint that should hear about this event (deduplicated). */
async function audience(ctx: MutationCtx, ev: CredentialEvent): Promise<Doc<"webhookEndpoints">[]> {
  const found = new Map<string, Doc<"webhookEndpoints">>();
  const add = (list: Doc<"webhookEndpoints">[]) => list.forEach((e) => found.set(e._id, e));
  add(
    await ctx.db
      .query("webhookEndpoints")
      .withIndex("by_user", (q) => q.eq("userId", ev.ownerId))
      .take(MAX_ENDPOINTS_PER_OWNER),
  );
  const orgIds = new Set<Id<"orgs">>(ev.orgIds ?? []);
  if (ev.scopeSets !== null) {
    const memberships = await ctx.db
      .query("memberships")
      .withIndex("by_user_org", (q) => q.eq("userId", ev.ownerId))
      .take(MAX_ORGS);
    for (const m of memberships) {
      if (orgIds.has(m.orgId)) continue;
      const endpoints = await orgEndpoints(ctx, m.orgId);
      if (endpoints.length === 0) continue;
      const org = await ctx.db.get("orgs", m.orgId);
      if (org !== null && reachesOrg(ev.scopeSets, org.slug)) add(endpoints);
    }
  }
  for (const orgId of orgIds) add(await orgEndpoints(ctx, orgId));
  return [...found.values()].filter((e) => e.eventTypes.includes(ev.type));
}

/** Queues a delivery of the event to every endpoint that subscribed to it. Returns how many. */
export async function emitEvent(ctx: MutationCtx, ev: CredentialEvent): Promise<number> {
  const endpoints = await audience(ctx, ev);
  if (endpoints.length === 0) return 0;
  const payload = JSON.stringify({ type: ev.type, timestamp: new Date().toISOString(), data: ev.data });
  for (const e of endpoints) await enqueueDelivery(ctx, e._id, ev.type, payload);
  return endpoints.length;
}

/** The event data of a PAT (no secret, no hash). */
export function patData(t: Doc<"apiTokens">): EventData {
  return {
    tokenId: t._id,
    kind: "pat",
    name: t.name,
    type: t.type,
    ownerUserId: t.userId,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt ?? null,
    reason: t.revokedReason ?? null,
  };
}

/** The event data of an agent session (no secret, no hash). */
export function sessionData(s: Doc<"agentSessions">): EventData {
  return {
    tokenId: s._id,
    kind: "agent",
    name: s.agentId,
    type: "session",
    ownerUserId: s.userId,
    familyId: s.familyId,
    parentTokenId: s.parentTokenId ?? null,
    expiresAt: s.expiresAt,
    reason: s.endReason ?? null,
  };
}

export function sessionScopeSets(s: Doc<"agentSessions">): ScopeEntry[][] {
  return s.parentScopes ? [s.scopes, s.parentScopes] : [s.scopes];
}

/**
 * Audit events that are also webhook events, raised where the audit event is
 * written (one marked call in model/audit.ts logAudit), so revocations, leak
 * reports and refresh-token reuse notify without touching their code paths.
 */
export async function webhookFromAudit(
  ctx: MutationCtx,
  event: { action: string; targetId?: string; actor: { id?: string } },
): Promise<void> {
  switch (event.action) {
    case "token.revoked":
    case "token.leaked": {
      const id = event.targetId ? ctx.db.normalizeId("apiTokens", event.targetId) : null;
      const t = id ? await ctx.db.get("apiTokens", id) : null;
      if (t === null) return;
      const type = event.action === "token.revoked" ? "token.revoked" : "token.leak_reported";
      await emitEvent(ctx, { type, ownerId: t.userId, scopeSets: [t.scopes], data: patData(t) });
      return;
    }
    case "session.leaked":
    case "session.reuse_detected": {
      const raw = event.action === "session.leaked" ? event.targetId : event.actor.id;
      const id = raw ? ctx.db.normalizeId("agentSessions", raw) : null;
      const s = id ? await ctx.db.get("agentSessions", id) : null;
      if (s === null) return;
      const type = event.action === "session.leaked" ? "token.leak_reported" : "session.reuse_detected";
      await emitEvent(ctx, { type, ownerId: s.userId, scopeSets: sessionScopeSets(s), data: sessionData(s) });
      return;
    }
  }
}
