import { v } from "convex/values";
import { PERMISSIONS, ROLES } from "./model/permissions";

/** Shared validators, named once (used by the schema and by function args/returns). */
export const vRole = v.union(...ROLES.map((r) => v.literal(r)));
export const vPermission = v.union(...PERMISSIONS.map((p) => v.literal(p)));
export const vTokenType = v.union(v.literal("PAT"), v.literal("MCP"));
export const vTokenStatus = v.union(
  v.literal("active"),
  v.literal("expired"),
  v.literal("revoked"),
);

/** A normalized scope entry as stored on a token or session. */
export const vScopeEntry = v.object({
  resource: v.optional(v.string()),
  permissions: v.array(v.string()),
  allowedMatches: v.optional(v.array(v.string())),
});
/** What callers may pass: entries, or the shorthand strings of docs/design.md. */
export const vScopeInput = v.union(v.string(), vScopeEntry);

export const vErrorCode = v.union(
  v.literal("unauthenticated"),
  v.literal("forbidden"),
  v.literal("invalid_argument"),
  v.literal("not_found"),
  v.literal("conflict"),
  v.literal("rate_limited"),
  v.literal("expired"),
  v.literal("revoked"),
);

/** Who did something, in an audit event. */
export const vActorKind = v.union(
  v.literal("user"),
  v.literal("pat"),
  v.literal("agent"),
  v.literal("anonymous"),
  v.literal("system"),
);

/** An audit event's own fields (the table adds whose log it is in, `userId`, and when, `at`). */
export const auditEventFields = {
  action: v.string(),
  actorKind: vActorKind,
  actorId: v.optional(v.string()),
  targetType: v.optional(v.string()),
  targetId: v.optional(v.string()),
  ip: v.optional(v.string()),
  userAgent: v.optional(v.string()),
  details: v.optional(v.string()),
};
