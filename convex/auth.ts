import GitHub from "@auth/core/providers/github";
import { convexAuth } from "@convex-dev/auth/server";
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { internalMutation } from "./_generated/server";
import * as AgentRefresh from "./model/agentRefresh";
import * as AgentSessions from "./model/agentSessions";
import {
  anyoneAction,
  anyoneMutation,
  anyoneQuery,
  delegatingAction,
  internalTwin,
  permissionQuery,
  principalMutation,
  principalQuery,
  userMutation,
  userQuery,
} from "./model/functions";
import { KeyholePassword } from "./model/passwordSignIn";
import * as OAuthComplete from "./model/oauth/complete";
import * as Regenerate from "./model/governance/regenerate";
import * as OAuthConnections from "./model/oauth/connections";
import * as OAuthFlows from "./model/oauth/flows";
import * as OAuthListing from "./model/oauth/listing";
import * as OAuthState from "./model/oauth/state";
import { getPrincipal, isSignInIdentity } from "./model/principal";
import { rememberTokenHint } from "./model/tokenHints";
import * as Tokens from "./model/tokens";
import * as WebSessions from "./model/webSessions";
import { vScopeInput } from "./validators";

// Password sign-in always (keyhole's hardened sign-in flow over the library's
// provider: model/passwordSignIn.ts; e-mail addresses are accounts' ids in
// lowercase, model/governance/email.ts); GitHub only when its OAuth app is configured.
const providers = [
  KeyholePassword,
  ...(process.env.AUTH_GITHUB_ID && process.env.AUTH_GITHUB_SECRET ? [GitHub] : []),
];

export const { auth, signIn, store } = convexAuth({ providers });

// @convex-dev/auth's signOut and isAuthenticated treat any identity as a
// sign-in. A keyhole token (PAT or agent session) never is one: it has no
// sign-in to end, and it does not count as signed in.

/** Ends the caller's sign-in; a no-op for keyhole tokens and anonymous callers. */
export const signOut = anyoneAction({
  why: "ends only the caller's own sign-in",
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    if (identity !== null && isSignInIdentity(identity)) {
      await ctx.runMutation(internal.auth.store, { args: { type: "signOut" } });
    }
    return null;
  },
});

/** Whether the caller is a person with a live sign-in. */
export const isAuthenticated = anyoneQuery({
  why: "answers only about the caller",
  args: {},
  returns: v.boolean(),
  handler: async (ctx) => {
    try {
      return (await getPrincipal(ctx))?.kind === "user";
    } catch {
      return false; // an ended sign-in, or a revoked or expired token
    }
  },
});

// The keyhole public API (docs/design.md, "Public API") is defined below, one
// section per credential kind; each function is a thin wrapper over
// convex/model/, built with the builder that says who may call it. The
// functions the HTTP API calls also have an internal twin (…Internal) with
// the same definition and rule (internalTwin, convex/model/functions.ts).

// ---- tokens (PATs, viewer) ------------------------------------------------

/** Creates a PAT for the signed-in person. The token text is in this result only. */
export const createApiToken = userMutation({
  action: "create tokens",
  args: Tokens.createTokenArgs,
  returns: Tokens.vCreatedToken,
  handler: async (ctx, args) => {
    const created = await Tokens.createToken(ctx, args);
    await rememberTokenHint(ctx, created.tokenId, created.token); // short identifier for lists (model/tokenHints.ts)
    return created;
  },
});
export const createApiTokenInternal = internalTwin(createApiToken);

/** The caller's tokens, newest first; expired and revoked ones stay listed for audit. */
export const listApiTokens = userQuery({
  action: "list tokens",
  args: {
    status: v.optional(v.union(v.literal("active"), v.literal("expired"), v.literal("revoked"), v.literal("all"))),
  },
  returns: v.object({ tokens: v.array(Tokens.vTokenInfo) }),
  handler: async (ctx, args) => ({ tokens: await Tokens.listTokens(ctx, args.status ?? "all") }),
});
export const listApiTokensInternal = internalTwin(listApiTokens);

/** One of the caller's tokens, with last-use details. Someone else's → not_found. */
export const getApiToken = userQuery({
  action: "read token details",
  args: { tokenId: v.string() },
  returns: Tokens.vTokenDetails,
  handler: async (ctx, args) => await Tokens.getToken(ctx, args.tokenId),
});
export const getApiTokenInternal = internalTwin(getApiToken);

/** Revokes a token now; its live agent sessions end with it. Repeating it is a no-op. */
export const revokeApiToken = userMutation({
  action: "revoke tokens",
  args: { tokenId: v.string() },
  returns: Tokens.vRevokeResult,
  handler: async (ctx, args) => {
    const { more, ...result } = await Tokens.revokeToken(ctx, args.tokenId);
    if (more) {
      await ctx.scheduler.runAfter(0, internal.auth.endRevokedTokenSessions, { tokenId: result.tokenId });
    }
    return result;
  },
});
export const revokeApiTokenInternal = internalTwin(revokeApiToken);

/** Continues ending the live child sessions of a revoked PAT, in batches. */
export const endRevokedTokenSessions = internalMutation({
  args: { tokenId: v.id("apiTokens") },
  returns: v.null(),
  handler: async (ctx, args) => {
    const { more } = await Tokens.endChildSessions(ctx, args.tokenId, Date.now());
    if (more) await ctx.scheduler.runAfter(0, internal.auth.endRevokedTokenSessions, args);
    return null;
  },
});

// governance: rotate a token without downtime, rename or redescribe it (model/governance/regenerate.ts)

/**
 * A new secret with the same settings (name, description, type, scopes,
 * lifetime from now) under a new token id. The old secret keeps working for
 * `graceSeconds` (0 to 604800 = 7 days; default 0: it stops now), then fails
 * as expired. The new token text is in this result only. People only.
 */
export const regenerateApiToken = userMutation({
  action: "regenerate tokens",
  args: { tokenId: v.string(), graceSeconds: v.optional(v.number()) },
  returns: v.object({
    ...Tokens.vCreatedToken.fields,
    previousTokenId: v.id("apiTokens"),
    previousExpiresAt: v.number(),
  }),
  handler: async (ctx, args) => {
    const r = await Regenerate.regenerateToken(ctx, args);
    await rememberTokenHint(ctx, r.tokenId, r.token); // short identifier for lists (model/tokenHints.ts)
    return r;
  },
});

/** Renames a token or changes its description ("" clears it). People only; someone else's → not_found. */
export const updateApiToken = userMutation({
  action: "change tokens",
  args: { tokenId: v.string(), name: v.optional(v.string()), description: v.optional(v.string()) },
  returns: Tokens.vTokenInfo,
  handler: async (ctx, args) => await Regenerate.updateToken(ctx, args),
});

/** Who is calling: a person, a PAT or an agent session. */
export const viewer = principalQuery({
  args: {},
  returns: Tokens.vViewer,
  handler: async (ctx) => Tokens.viewerOf(ctx.principal),
});

// ---- sessions (agent sessions, web sessions) ------------------------------

const vSessionPair = v.object({
  token: v.string(),
  refreshToken: v.string(),
  sessionId: v.id("agentSessions"),
  expiresAt: v.number(),
});

/**
 * Mints an agent session for the caller: a signed-in person (full role,
 * optionally narrowed by `scopes`) or a PAT (a child: bounded by the PAT's
 * scopes and expiry, ended with it); an agent session gets `forbidden`.
 * `ttl` in seconds, 60-86400, default 3600. The token and refresh token are
 * in this result only.
 */
export const createSession = principalMutation({
  args: {
    agentId: v.string(),
    ttl: v.optional(v.number()),
    metadata: v.optional(v.any()),
    scopes: v.optional(v.array(vScopeInput)),
  },
  returns: vSessionPair,
  handler: async (ctx, args) => await AgentSessions.createAgentSession(ctx, args),
});
export const createSessionInternal = internalTwin(createSession);

/** Whether a session token is live; every bad token gets the same `{valid: false, ...nulls}`. */
export const validateSession = anyoneQuery({
  why: "possession of the session token is the check",
  args: { token: v.string() },
  returns: v.object({
    valid: v.boolean(),
    agentId: v.union(v.string(), v.null()),
    expiresAt: v.union(v.number(), v.null()),
    metadata: v.union(v.any(), v.null()),
  }),
  handler: async (ctx, { token }) => await AgentSessions.validateAgentSession(ctx, token),
});

/**
 * Refreshes an agent session (a mutation: `client.mutation(api.auth.refreshSession, …)`).
 * `{refreshToken, ttl?}` rotates the pair and ends every other live token of
 * the session; `{token, ttl?}` (the current, unexpired session token) returns
 * a new session token only, never a refresh token, expiring no later than the
 * one presented. Result: `{ok: true, token, refreshToken?, sessionId, expiresAt}`
 * or `{ok: false, code: "unauthenticated"|"revoked"|"expired", message}` —
 * a refusal is returned, not thrown, so that a replay's revocation of the
 * whole session family commits.
 */
export const refreshSession = anyoneMutation({
  why: "possession of the refresh token (or of the live session token) is the check",
  args: {
    refreshToken: v.optional(v.string()),
    token: v.optional(v.string()),
    ttl: v.optional(v.number()),
  },
  returns: AgentRefresh.vRefreshResult,
  handler: async (ctx, args) => await AgentRefresh.refreshAgentSession(ctx, args),
});
export const refreshSessionInternal = internalTwin(refreshSession);

/** Ends the session this token belongs to: it fails on its next request. */
export const endSession = anyoneMutation({
  why: "possession of the session token is the check",
  args: { token: v.string() },
  returns: v.null(),
  handler: async (ctx, { token }) => {
    await AgentSessions.endAgentSessionByToken(ctx, token);
    return null;
  },
});
export const endSessionInternal = internalTwin(endSession);

const vWebSession = v.object({
  sessionId: v.id("webSessions"),
  authSessionId: v.id("authSessions"),
  userAgent: v.optional(v.string()),
  ipAddress: v.optional(v.string()),
  createdAt: v.number(),
  lastActiveAt: v.number(),
});

/**
 * Records device facts for the caller's current sign-in (request metadata
 * first, the arguments as fallback). Idempotent; also marks it active.
 * `userId`, as the seed passes it, must be the caller's own: anyone else's
 * is `forbidden` (a web session is never recorded for someone else).
 */
export const createWebSession = userMutation({
  action: "record a web session",
  args: { userId: v.optional(v.string()), userAgent: v.optional(v.string()), ipAddress: v.optional(v.string()) },
  returns: vWebSession,
  handler: async (ctx, args) => await WebSessions.recordWebSession(ctx, args),
});

/** Whether one of the caller's own sign-ins (webSessions or authSessions id) is live. */
export const validateWebSession = userQuery({
  action: "check web sessions",
  args: { sessionId: v.string() },
  returns: v.object({
    valid: v.boolean(),
    sessionId: v.union(v.string(), v.null()),
    authSessionId: v.union(v.id("authSessions"), v.null()),
    current: v.union(v.boolean(), v.null()),
    userAgent: v.union(v.string(), v.null()),
    ipAddress: v.union(v.string(), v.null()),
    createdAt: v.union(v.number(), v.null()),
    lastActiveAt: v.union(v.number(), v.null()),
    expiresAt: v.union(v.number(), v.null()),
  }),
  handler: async (ctx, { sessionId }) => await WebSessions.checkWebSession(ctx, sessionId),
});

// ---- oauth (connections) --------------------------------------------------

/**
 * Starts connecting the signed-in person's account at `provider` (github,
 * slack, oauth2). `redirectUri` must exactly match an allowlisted URI.
 * Returns where to send the browser and the single-use state (10 minutes).
 */
export const initiateOAuth = userMutation({
  action: "connect an OAuth account",
  args: { provider: v.string(), scopes: v.array(v.string()), redirectUri: v.string() },
  returns: v.object({ authUrl: v.string(), state: v.string() }),
  handler: async (ctx, args) => await OAuthState.initiate(ctx, args),
});

/**
 * Finishes the flow with the provider's `code` (a mutation, as the seed calls
 * it). Checks and consumes `state` (same person, same provider, unexpired,
 * unused), records the connection as `pending` and schedules the code
 * exchange; returns `{connectionId, provider, scopes, expiresAt}` at once
 * (`scopes` as requested, `expiresAt` null until the provider answers). The
 * outcome shows on the connection record, live (listOAuthConnections):
 * `status: "active"` with the granted scopes and expiry, or `attempt.status:
 * "failed"` with `{code, message}`. A refused state throws and consumes nothing.
 */
export const completeOAuth = userMutation({
  action: "connect an OAuth account",
  args: { provider: v.string(), code: v.string(), state: v.string() },
  returns: OAuthConnections.vCompleted,
  handler: async (ctx, args) => await OAuthComplete.beginComplete(ctx, args),
});

/** The caller's connections (`connections:read`); never a token or any other secret. */
export const listOAuthConnections = permissionQuery({
  permission: "connections:read",
  args: {},
  returns: v.array(OAuthListing.vConnectionInfo),
  handler: async (ctx) => await OAuthListing.listConnections(ctx),
});

/**
 * Disconnects `provider`: deletes the stored tokens now, then asks the
 * provider to revoke them (best effort). Idempotent: `revoked: false` when
 * there was nothing to revoke.
 */
export const revokeOAuth = delegatingAction({
  checkedBy: "oauth:takeForRevoke",
  args: { provider: v.string() },
  returns: v.object({
    revoked: v.boolean(),
    connectionId: v.union(v.id("oauthConnections"), v.null()),
    providerRevoked: v.union(v.boolean(), v.null()),
  }),
  handler: async (
    ctx,
    args,
  ): Promise<{ revoked: boolean; connectionId: Id<"oauthConnections"> | null; providerRevoked: boolean | null }> =>
    await OAuthFlows.revoke(ctx, args.provider),
});
