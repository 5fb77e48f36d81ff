import { authTables } from "@convex-dev/auth/server";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { vDeliveryAttempt, vDeliveryStatus, vNoticeKind, vTokenPolicyFields, vWebhookEventType } from "./model/governance/validators";
import { auditEventFields, vRole, vScopeEntry, vTokenType } from "./validators";

export default defineSchema({
  ...authTables,

  // --- organizations, members, workspaces, items -------------------------
  orgs: defineTable({
    slug: v.string(),
    name: v.string(),
    createdBy: v.id("users"),
    createdAt: v.number(),
    /** Governance (model/governance/policy.ts): read by authorize() with the org, no extra read. */
    tokenPolicy: v.optional(v.object(vTokenPolicyFields)),
  }).index("by_slug", ["slug"]),

  memberships: defineTable({
    orgId: v.id("orgs"),
    userId: v.id("users"),
    role: vRole,
    createdAt: v.number(),
  })
    .index("by_user_org", ["userId", "orgId"])
    // by_org lists members in the order they joined; by_org_role finds owners.
    // eslint-disable-next-line @convex-dev/no-duplicate-indexes
    .index("by_org", ["orgId"])
    .index("by_org_role", ["orgId", "role"]),

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
    /**
     * SHA-256 (hex) of the token's secret `bnd` claim: binds the record to
     * the one token signed for it (model/keyTrust.ts). Absent on records
     * from before binding existed.
     */
    bindingHash: v.optional(v.string()),
    createdAt: v.number(),
    expiresAt: v.number(),
    revokedAt: v.optional(v.number()),
    revokedReason: v.optional(v.string()),
    lastUsedAt: v.optional(v.number()),
    lastUsedIp: v.optional(v.string()),
    lastUsedUserAgent: v.optional(v.string()),
    /**
     * The activity chart's use counter for one UTC day, kept on the token so
     * it rides on the last-use write (model/activity.ts); an earlier day's
     * count moves to its tokenActivity row on the next use.
     */
    usesDay: v.optional(v.number()),
    usesOnDay: v.optional(v.number()),
    /** Last characters of the token text, to match a found token to its row (model/tokenHints.ts). */
    hint: v.optional(v.string()),
  })
    // by_user lists newest first; by_user_name_status checks name uniqueness.
    // eslint-disable-next-line @convex-dev/no-duplicate-indexes
    .index("by_user", ["userId"])
    // status lookups: revokedAt absent = not revoked; then expiry decides
    .index("by_user_status", ["userId", "revokedAt", "expiresAt"])
    .index("by_user_name_status", ["userId", "name", "revokedAt", "expiresAt"])
    .index("by_hash", ["tokenHash"])
    .index("by_key_expiry", ["keyId", "expiresAt"])
    // governance: expiry notices scan tokens by expiry across all owners
    .index("by_expiry", ["expiresAt"])
    // the overview's uses this week still on the tokens (model/activity.ts)
    .index("by_user_uses_day", ["userId", "usesDay"]),

  /**
   * One row per agent session token. A refresh ends the row ("refreshed") and
   * inserts its successor in the same family; replaying an ended row's refresh
   * token ends the whole family. Child sessions of a PAT carry its id and a
   * copy of its scopes (both must allow), so a check reads one row.
   */
  agentSessions: defineTable({
    userId: v.id("users"),
    agentId: v.string(),
    familyId: v.string(),
    parentTokenId: v.optional(v.id("apiTokens")),
    scopes: v.array(vScopeEntry),
    parentScopes: v.optional(v.array(vScopeEntry)),
    metadata: v.optional(v.any()),
    /** SHA-256 (hex) of the session token and of its refresh token. */
    tokenHash: v.string(),
    /** "" when the row holds no refresh token (minted from a session token, or moved on). */
    refreshHash: v.string(),
    /** The key that signed the session token, and the hash of its `bnd` claim (model/keyTrust.ts). */
    keyId: v.optional(v.string()),
    bindingHash: v.optional(v.string()),
    /** The ttl (s) the session was established with: the cap for refreshes by session token. */
    ttl: v.optional(v.number()),
    /**
     * Set on every row of an OAuth grant's family (model/oauthServer/): the
     * resource it was issued for (RFC 8707). Absent on every other session.
     */
    audience: v.optional(v.string()),
    createdAt: v.number(),
    expiresAt: v.number(),
    familyExpiresAt: v.number(),
    endedAt: v.optional(v.number()),
    endReason: v.optional(v.string()),
    lastSeenAt: v.optional(v.number()),
    lastSeenIp: v.optional(v.string()),
    lastSeenUserAgent: v.optional(v.string()),
  })
    // endedAt in the keys makes "live rows only" an index range
    // (`.eq("endedAt", undefined)`): a family keeps one ended row per refresh.
    // by_user lists live sessions; by_user_agent ends all of one agent's.
    .index("by_user", ["userId", "endedAt", "expiresAt"])
    .index("by_family", ["familyId", "endedAt"])
    // live children of a PAT (endedAt absent), ended together on revoke
    .index("by_parent_live", ["parentTokenId", "endedAt"])
    .index("by_refresh_hash", ["refreshHash"])
    .index("by_token_hash", ["tokenHash"])
    .index("by_user_agent", ["userId", "agentId", "endedAt"])
    // purge: rows of families past their absolute lifetime are dead for good
    .index("by_family_expiry", ["familyExpiresAt"])
    // live sessions a signing key signed (ended when the key is revoked)
    .index("by_key_live", ["keyId", "endedAt"]),

  /** Device facts for a sign-in (an @convex-dev/auth session). */
  webSessions: defineTable({
    userId: v.id("users"),
    authSessionId: v.id("authSessions"),
    userAgent: v.optional(v.string()),
    ipAddress: v.optional(v.string()),
    createdAt: v.number(),
    lastActiveAt: v.number(),
  })
    .index("by_auth_session", ["authSessionId"])
    .index("by_user", ["userId"]),

  /** Public keys that no longer sign but still verify tokens they signed. */
  retiredSigningKeys: defineTable({
    keyId: v.string(),
    publicJwk: v.string(),
    retiredAt: v.number(),
    /** The last expiry of a token this key signed: drop from the JWKS after. */
    notAfter: v.number(),
    /**
     * Set by an emergency retirement (keys:revokeKey): the key is out of the
     * JWKS and every token it signed is refused at once. Never cleared.
     */
    compromisedAt: v.optional(v.number()),
    compromiseReason: v.optional(v.string()),
  }).index("by_key", ["keyId"]),

  // --- audit and abuse ----------------------------------------------------
  auditEvents: defineTable({
    /** Whose audit log this belongs to (the owner of the target). */
    userId: v.id("users"),
    ...auditEventFields,
    /** The PAT the event is about or was made with, for the token filter (model/audit.ts). */
    tokenId: v.optional(v.string()),
    at: v.number(),
  })
    .index("by_user_at", ["userId", "at"])
    // the audit log's filters (event type, token, actor kind), each with a date range
    .index("by_user_action_at", ["userId", "action", "at"])
    .index("by_user_token_at", ["userId", "tokenId", "at"])
    .index("by_user_actor_at", ["userId", "actorKind", "at"]),

  /** Per token and UTC day: minutes with recorded use, refused requests (model/activity.ts). */
  tokenActivity: defineTable({
    userId: v.id("users"),
    tokenId: v.id("apiTokens"),
    day: v.number(),
    uses: v.number(),
    refused: v.number(),
  })
    .index("by_token_day", ["tokenId", "day"])
    .index("by_user_day", ["userId", "day"]),

  rateLimits: defineTable({
    key: v.string(),
    windowStart: v.number(),
    count: v.number(),
  })
    .index("by_key", ["key"])
    .index("by_window", ["windowStart"]),

  // --- OAuth connections (convex/model/oauth/) ------------------------------
  /** A pending authorization: single-use, bound to a user and a provider. */
  oauthStates: defineTable({
    /** SHA-256 (hex) of the state; the state itself is never stored. */
    stateHash: v.string(),
    userId: v.id("users"),
    provider: v.string(),
    redirectUri: v.string(),
    scopes: v.array(v.string()),
    /** PKCE verifier, AES-256-GCM encrypted (removed once the state is used). */
    verifier: v.optional(v.string()),
    /** SHA-256 of the browser-binding cookie (callback-route flows only). */
    bindingHash: v.optional(v.string()),
    /**
     * completeOAuth (a mutation) leaves the code and PKCE verifier here,
     * AES-256-GCM encrypted, for the scheduled exchange; removed when it starts.
     */
    exchange: v.optional(v.string()),
    /** The connection record that shows this completion's outcome. */
    connectionId: v.optional(v.id("oauthConnections")),
    createdAt: v.number(),
    expiresAt: v.number(),
    usedAt: v.optional(v.number()),
  })
    .index("by_hash", ["stateHash"])
    .index("by_expires", ["expiresAt"]),

  /** One connection per user and provider; tokens AES-256-GCM encrypted. */
  oauthConnections: defineTable({
    userId: v.id("users"),
    provider: v.string(),
    accountId: v.optional(v.string()),
    accountLogin: v.optional(v.string()),
    /** Granted scopes as the provider returned them. */
    scopes: v.array(v.string()),
    /** Key that encrypted both ciphertexts below (rotation finds rows by it). */
    keyId: v.string(),
    accessToken: v.string(),
    refreshToken: v.optional(v.string()),
    tokenType: v.optional(v.string()),
    expiresAt: v.optional(v.number()),
    createdAt: v.number(),
    updatedAt: v.number(),
    lastUsedAt: v.optional(v.number()),
    lastRefreshedAt: v.optional(v.number()),
    refreshLockId: v.optional(v.string()),
    refreshLockUntil: v.optional(v.number()),
    /** Set when the provider rejected the refresh token: reconnect needed. */
    needsReconnect: v.optional(v.boolean()),
    /**
     * A completeOAuth in progress or failed (cleared when one succeeds). A row
     * created by it has no tokens yet (accessToken "") until the exchange
     * succeeds.
     */
    attempt: v.optional(
      v.object({
        status: v.union(v.literal("pending"), v.literal("failed")),
        at: v.number(),
        error: v.optional(v.object({ code: v.string(), reason: v.string(), message: v.string() })),
      }),
    ),
  })
    .index("by_user_provider", ["userId", "provider"])
    .index("by_key", ["keyId"]),

  // --- governance (convex/model/governance/) ----------------------------------
  /** An invitation to an org: single-use, expiring; only the SHA-256 of its code is stored. */
  orgInvites: defineTable({
    orgId: v.id("orgs"),
    role: vRole,
    /** Lowercased; when set, only an account with this e-mail may accept. */
    email: v.optional(v.string()),
    codeHash: v.string(),
    invitedBy: v.id("users"),
    createdAt: v.number(),
    expiresAt: v.number(),
    acceptedAt: v.optional(v.number()),
    acceptedBy: v.optional(v.id("users")),
    revokedAt: v.optional(v.number()),
    revokedBy: v.optional(v.id("users")),
  })
    .index("by_code", ["codeHash"])
    .index("by_org", ["orgId", "createdAt"]),

  /** A PAT regenerated with a grace period: the old record expires at the grace end. */
  tokenRegenerations: defineTable({
    userId: v.id("users"),
    oldTokenId: v.id("apiTokens"),
    newTokenId: v.id("apiTokens"),
    graceEndsAt: v.number(),
    createdAt: v.number(),
  })
    .index("by_old", ["oldTokenId"])
    .index("by_new", ["newTokenId"]),

  /** Dashboard notices (expiring / expired tokens, admin revocations). */
  notices: defineTable({
    userId: v.id("users"),
    kind: vNoticeKind,
    /** The token (or agent session) id the notice is about. */
    subjectId: v.string(),
    message: v.string(),
    createdAt: v.number(),
    dismissedAt: v.optional(v.number()),
  })
    .index("by_user", ["userId", "dismissedAt", "createdAt"])
    .index("by_subject_kind", ["subjectId", "kind"]),

  /** A webhook endpoint of a person or an org; its signing secret is AES-256-GCM encrypted. */
  webhookEndpoints: defineTable({
    /** A person's endpoint (userId) or an org's (orgId); exactly one is set. */
    userId: v.optional(v.id("users")),
    orgId: v.optional(v.id("orgs")),
    url: v.string(),
    description: v.optional(v.string()),
    eventTypes: v.array(vWebhookEventType),
    secret: v.string(),
    createdBy: v.id("users"),
    createdAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_org", ["orgId"]),

  /** One event for one endpoint, with its attempts (the delivery log). Never a secret in `payload`. */
  webhookDeliveries: defineTable({
    endpointId: v.id("webhookEndpoints"),
    /** The Standard Webhooks message id (`webhook-id`), the same on every retry. */
    messageId: v.string(),
    eventType: v.string(),
    payload: v.string(),
    status: vDeliveryStatus,
    attempts: v.array(vDeliveryAttempt),
    nextAttemptAt: v.optional(v.number()),
    createdAt: v.number(),
  })
    .index("by_endpoint", ["endpointId", "createdAt"])
    .index("by_created", ["createdAt"]),

  // --- keyhole as an OAuth authorization server (convex/model/oauthServer/) --
  /**
   * A client: registered through RFC 7591 ("dcr", client_id `khc_…`) or a
   * cached Client ID Metadata Document ("cimd", client_id = its https URL).
   */
  oauthClients: defineTable({
    clientId: v.string(),
    kind: v.union(v.literal("dcr"), v.literal("cimd")),
    name: v.string(),
    redirectUris: v.array(v.string()),
    clientUri: v.optional(v.string()),
    logoUri: v.optional(v.string()),
    authMethod: v.union(v.literal("none"), v.literal("client_secret_basic"), v.literal("client_secret_post")),
    /** SHA-256 (hex) of a confidential DCR client's secret. */
    secretHash: v.optional(v.string()),
    /** DCR: SHA-256 of the normalized registration, so identical registrations share one client. */
    metadataHash: v.optional(v.string()),
    grantTypes: v.array(v.string()),
    scope: v.optional(v.string()),
    createdAt: v.number(),
    /** CIMD: the cached document is used until then, and fetched again after. */
    staleAt: v.optional(v.number()),
    /** Deleted by the reaper after this (pushed out while the client is in use). */
    reapAt: v.number(),
  })
    .index("by_client_id", ["clientId"])
    .index("by_metadata_hash", ["metadataHash"])
    .index("by_reap", ["reapAt"]),

  /** An authorization request waiting for the person's consent in the dashboard. */
  oauthAuthRequests: defineTable({
    /** SHA-256 (hex) of the request id in the consent URL. */
    requestHash: v.string(),
    clientId: v.string(),
    redirectUri: v.string(),
    state: v.optional(v.string()),
    codeChallenge: v.string(),
    resource: v.string(),
    /** Requested permissions (known ones only). */
    permissions: v.array(v.string()),
    createdAt: v.number(),
    expiresAt: v.number(),
    decidedAt: v.optional(v.number()),
  })
    .index("by_hash", ["requestHash"])
    .index("by_expires", ["expiresAt"]),

  /** An authorization code: single use, bound to client, redirect URI, PKCE challenge and resource. */
  oauthCodes: defineTable({
    codeHash: v.string(),
    clientId: v.string(),
    userId: v.id("users"),
    redirectUri: v.string(),
    codeChallenge: v.string(),
    resource: v.string(),
    permissions: v.array(v.string()),
    scopes: v.array(vScopeEntry),
    createdAt: v.number(),
    expiresAt: v.number(),
    usedAt: v.optional(v.number()),
    /** The grant this code was exchanged for (revoked if the code is replayed). */
    grantId: v.optional(v.id("oauthGrants")),
  })
    .index("by_hash", ["codeHash"])
    .index("by_expires", ["expiresAt"]),

  /**
   * What a person granted a client: one agent-session family (access token =
   * session token, refresh token = its refresh token), audience-bound to
   * `resource` (RFC 8707).
   */
  oauthGrants: defineTable({
    userId: v.id("users"),
    clientId: v.string(),
    clientName: v.string(),
    clientKind: v.union(v.literal("dcr"), v.literal("cimd")),
    familyId: v.string(),
    resource: v.string(),
    permissions: v.array(v.string()),
    scopes: v.array(vScopeEntry),
    createdAt: v.number(),
    familyExpiresAt: v.number(),
    revokedAt: v.optional(v.number()),
    revokedReason: v.optional(v.string()),
  })
    .index("by_family", ["familyId"])
    .index("by_user", ["userId", "revokedAt", "familyExpiresAt"])
    .index("by_expiry", ["familyExpiresAt"]),
});
