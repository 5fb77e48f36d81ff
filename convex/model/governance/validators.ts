/**
 * Validators for org governance and the token lifecycle (invitations, token
 * policy, org-wide token view, notices, webhooks), shared by the schema and
 * the function wrappers.
 */
import { v, type Infer } from "convex/values";
import { vRole, vScopeEntry, vTokenStatus, vTokenType } from "../../validators";

/** Webhook events (docs/governance.md, "Webhooks"). `webhook.test` is sent on request only. */
export const WEBHOOK_EVENT_TYPES = [
  "token.expiring",
  "token.expired",
  "token.revoked",
  "token.leak_reported",
  "session.reuse_detected",
  "org.token_revoked",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export const vWebhookEventType = v.union(...WEBHOOK_EVENT_TYPES.map((t) => v.literal(t)));

export const vDeliveryStatus = v.union(
  v.literal("pending"),
  v.literal("retrying"),
  v.literal("delivered"),
  v.literal("failed"),
);
export const vDeliveryAttempt = v.object({
  at: v.number(),
  /** HTTP status, or null when no response came (timeout, refused, bad URL). */
  status: v.union(v.number(), v.null()),
  error: v.optional(v.string()),
  durationMs: v.number(),
});

export const vNoticeKind = v.union(
  v.literal("token.expiring"),
  v.literal("token.expired"),
  v.literal("token.revoked_by_admin"),
  v.literal("token.revoked_unused"),
);
export type NoticeKind = Infer<typeof vNoticeKind>;

/** A stored org token policy. Absent fields = no rule. */
export const vTokenPolicyFields = {
  /** Tokens that live longer than this (expiresAt - createdAt) are refused in the org. */
  maxLifetimeDays: v.optional(v.number()),
  /** Tokens with blank scopes ("full role") are refused in the org. */
  requireExplicitScopes: v.optional(v.boolean()),
  /** A cron revokes tokens reaching the org that were not used for this many days. */
  revokeUnusedAfterDays: v.optional(v.number()),
  /** false: tokens of type MCP (and agent sessions minted from them) are refused in the org. */
  allowMcpClients: v.optional(v.boolean()),
  updatedAt: v.optional(v.number()),
  updatedBy: v.optional(v.id("users")),
};

/** The policy as callers see it: every rule spelled out. */
export const vTokenPolicy = v.object({
  maxLifetimeDays: v.union(v.number(), v.null()),
  requireExplicitScopes: v.boolean(),
  revokeUnusedAfterDays: v.union(v.number(), v.null()),
  allowMcpClients: v.boolean(),
  updatedAt: v.union(v.number(), v.null()),
  updatedBy: v.union(v.string(), v.null()),
});
export type TokenPolicy = Infer<typeof vTokenPolicy>;

/** setTokenPolicy input: a field left out stays as it is; null clears a limit. */
export const vTokenPolicyInput = v.object({
  maxLifetimeDays: v.optional(v.union(v.number(), v.null())),
  requireExplicitScopes: v.optional(v.boolean()),
  revokeUnusedAfterDays: v.optional(v.union(v.number(), v.null())),
  allowMcpClients: v.optional(v.boolean()),
});

export const vInviteCreated = v.object({
  inviteId: v.id("orgInvites"),
  /** Shown once; only its SHA-256 is stored. */
  code: v.string(),
  /** The dashboard link; the code rides in the fragment, which browsers never send to a server. */
  url: v.string(),
  expiresAt: v.number(),
});

export const vInviteStatus = v.union(v.literal("pending"), v.literal("accepted"), v.literal("revoked"), v.literal("expired"));

export const vInviteInfo = v.object({
  inviteId: v.id("orgInvites"),
  role: vRole,
  email: v.union(v.string(), v.null()),
  status: vInviteStatus,
  invitedBy: v.union(v.string(), v.null()),
  createdAt: v.number(),
  expiresAt: v.number(),
  acceptedBy: v.union(v.string(), v.null()),
  acceptedAt: v.union(v.number(), v.null()),
});

/** One credential that can reach an org, as its owners and admins see it. Never a secret. */
export const vOrgToken = v.object({
  tokenId: v.string(),
  kind: v.union(v.literal("pat"), v.literal("agent")),
  owner: v.object({ userId: v.id("users"), email: v.union(v.string(), v.null()), role: vRole }),
  name: v.string(),
  type: v.union(vTokenType, v.literal("session")),
  /** The scope entries that reach this org; [] with fullRole = the owner's whole role. */
  scopes: v.array(vScopeEntry),
  fullRole: v.boolean(),
  status: vTokenStatus,
  createdAt: v.number(),
  expiresAt: v.number(),
  lastUsedAt: v.union(v.number(), v.null()),
  /** What this org's token policy refuses about it (empty = allowed). */
  policyViolations: v.array(v.string()),
  parentTokenId: v.union(v.string(), v.null()),
});
export type OrgToken = Infer<typeof vOrgToken>;
