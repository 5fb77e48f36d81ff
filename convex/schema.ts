import { authTables } from "@convex-dev/auth/server";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { vRole, vScopeEntry, vTokenType } from "./validators";

export default defineSchema({
  ...authTables,

  // --- organizations, members, workspaces, items -------------------------
  orgs: defineTable({
    slug: v.string(),
    name: v.string(),
    createdBy: v.id("users"),
    createdAt: v.number(),
  }).index("by_slug", ["slug"]),

  memberships: defineTable({
    orgId: v.id("orgs"),
    userId: v.id("users"),
    role: vRole,
    createdAt: v.number(),
  })
    .index("by_user_org", ["userId", "orgId"])
    .index("by_org", ["orgId"]),

  workspaces: defineTable({
    orgId: v.id("orgs"),
    slug: v.string(),
    name: v.string(),
    createdAt: v.number(),
  }).index("by_org_slug", ["orgId", "slug"]),

  items: defineTable({
    workspaceId: v.id("workspaces"),
    name: v.string(),
    data: v.any(),
    updatedAt: v.number(),
    updatedBy: v.id("users"),
  }).index("by_workspace_name", ["workspaceId", "name"]),

  // --- credentials --------------------------------------------------------
  apiTokens: defineTable({
    userId: v.id("users"),
    name: v.string(),
    description: v.optional(v.string()),
    type: vTokenType,
    /** Normalized entries; [] means "the owner's full role". */
    scopes: v.array(vScopeEntry),
    /** SHA-256 (hex) of the token text; the text itself is never stored. */
    tokenHash: v.string(),
    /** Thumbprint of the key that signed it (for key rotation). */
    keyId: v.string(),
    createdAt: v.number(),
    expiresAt: v.number(),
    revokedAt: v.optional(v.number()),
    revokedReason: v.optional(v.string()),
    lastUsedAt: v.optional(v.number()),
    lastUsedIp: v.optional(v.string()),
    lastUsedUserAgent: v.optional(v.string()),
  })
    .index("by_user", ["userId"])
    .index("by_user_name", ["userId", "name"])
    .index("by_hash", ["tokenHash"])
    .index("by_key_expiry", ["keyId", "expiresAt"]),

  /** Public keys that no longer sign but still verify tokens they signed. */
  retiredSigningKeys: defineTable({
    keyId: v.string(),
    publicJwk: v.string(),
    retiredAt: v.number(),
    /** The last expiry of a token this key signed: drop from the JWKS after. */
    notAfter: v.number(),
  }).index("by_key", ["keyId"]),

  // --- audit and abuse ----------------------------------------------------
  auditEvents: defineTable({
    /** Whose audit log this belongs to (the owner of the target). */
    userId: v.id("users"),
    action: v.string(),
    actorKind: v.union(
      v.literal("user"),
      v.literal("pat"),
      v.literal("agent"),
      v.literal("anonymous"),
      v.literal("system"),
    ),
    actorId: v.optional(v.string()),
    targetType: v.optional(v.string()),
    targetId: v.optional(v.string()),
    ip: v.optional(v.string()),
    userAgent: v.optional(v.string()),
    details: v.optional(v.string()),
    at: v.number(),
  }).index("by_user_at", ["userId", "at"]),

  rateLimits: defineTable({
    key: v.string(),
    windowStart: v.number(),
    count: v.number(),
  }).index("by_key", ["key"]),
});
