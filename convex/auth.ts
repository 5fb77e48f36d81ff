import GitHub from "@auth/core/providers/github";
import { Password } from "@convex-dev/auth/providers/Password";
import { convexAuth } from "@convex-dev/auth/server";

// Password sign-in always; GitHub only when its OAuth app is configured.
const providers = [
  Password,
  ...(process.env.AUTH_GITHUB_ID && process.env.AUTH_GITHUB_SECRET ? [GitHub] : []),
];

export const { auth, signIn, signOut, store, isAuthenticated } = convexAuth({
  providers,
});

// The keyhole public API (DESIGN.md, "Public API") is defined below, one
// section per credential kind; each function is a thin wrapper over
// convex/model/.

// ---- section: tokens (PATs, viewer) ---------------------------------------
import { v as vTokens } from "convex/values";
import { internal as internalTokens } from "./_generated/api";
import { internalMutation as internalMutationTokens, mutation as mutationTokens, query as queryTokens } from "./_generated/server";
import { requirePrincipal as requirePrincipalTokens } from "./model/principal";
import * as Tokens from "./model/tokens";
import { vScopeInput, vTokenType } from "./validators";

/** Creates a PAT for the signed-in person. The token text is in this result only. */
export const createApiToken = mutationTokens({
  args: {
    name: vTokens.string(),
    scopes: vTokens.array(vScopeInput),
    expiresIn: vTokens.optional(vTokens.number()),
    description: vTokens.optional(vTokens.string()),
    type: vTokens.optional(vTokenType),
  },
  returns: Tokens.vCreatedToken,
  handler: async (ctx, args) => await Tokens.createToken(ctx, args),
});

/** The caller's tokens, newest first; expired and revoked ones stay listed for audit. */
export const listApiTokens = queryTokens({
  args: {
    status: vTokens.optional(
      vTokens.union(
        vTokens.literal("active"),
        vTokens.literal("expired"),
        vTokens.literal("revoked"),
        vTokens.literal("all"),
      ),
    ),
  },
  returns: vTokens.object({ tokens: vTokens.array(Tokens.vTokenInfo) }),
  handler: async (ctx, args) => ({ tokens: await Tokens.listTokens(ctx, args.status ?? "all") }),
});

/** One of the caller's tokens, with last-use details. Someone else's → not_found. */
export const getApiToken = queryTokens({
  args: { tokenId: vTokens.string() },
  returns: Tokens.vTokenDetails,
  handler: async (ctx, args) => await Tokens.getToken(ctx, args.tokenId),
});

/** Revokes a token now; its live agent sessions end with it. Repeating it is a no-op. */
export const revokeApiToken = mutationTokens({
  args: { tokenId: vTokens.string() },
  returns: Tokens.vRevokeResult,
  handler: async (ctx, args) => {
    const { more, ...result } = await Tokens.revokeToken(ctx, args.tokenId);
    if (more) {
      await ctx.scheduler.runAfter(0, internalTokens.auth.endRevokedTokenSessions, { tokenId: result.tokenId });
    }
    return result;
  },
});

/** Continues ending the live child sessions of a revoked PAT, in batches. */
export const endRevokedTokenSessions = internalMutationTokens({
  args: { tokenId: vTokens.id("apiTokens") },
  returns: vTokens.null(),
  handler: async (ctx, args) => {
    const { more } = await Tokens.endChildSessions(ctx, args.tokenId, Date.now());
    if (more) await ctx.scheduler.runAfter(0, internalTokens.auth.endRevokedTokenSessions, args);
    return null;
  },
});

/** Who is calling: a person, a PAT or an agent session. */
export const viewer = queryTokens({
  args: {},
  returns: Tokens.vViewer,
  handler: async (ctx) => Tokens.viewerOf(await requirePrincipalTokens(ctx)),
});
// ---- /section: tokens ------------------------------------------------------

// ---- section: sessions (agent sessions, web sessions) ---------------------
import { v as vSessions } from "convex/values";
import { internal as internalSessions } from "./_generated/api";
import {
  action as actionSessions,
  mutation as mutationSessions,
  query as querySessions,
} from "./_generated/server";
import * as AgentSessions from "./model/agentSessions";
import { keyholeError as keyholeErrorSessions } from "./model/errors";
import * as WebSessions from "./model/webSessions";
import { vScopeInput as vScopeInputSessions } from "./validators";

const vSessionPair = vSessions.object({
  token: vSessions.string(),
  refreshToken: vSessions.string(),
  sessionId: vSessions.id("agentSessions"),
  expiresAt: vSessions.number(),
});

/**
 * Mints an agent session for the caller: a signed-in person (full role,
 * optionally narrowed by `scopes`) or a PAT (a child: bounded by the PAT's
 * scopes and expiry, ended with it). `ttl` in seconds, 60-86400, default 3600.
 * The token and refresh token are in this result only.
 */
export const createSession = mutationSessions({
  args: {
    agentId: vSessions.string(),
    ttl: vSessions.optional(vSessions.number()),
    metadata: vSessions.optional(vSessions.any()),
    scopes: vSessions.optional(vSessions.array(vScopeInputSessions)),
  },
  returns: vSessionPair,
  handler: async (ctx, args) => await AgentSessions.createAgentSession(ctx, args),
});

/** Whether a session token is live; every bad token gets the same `{valid: false, ...nulls}`. */
export const validateSession = querySessions({
  args: { token: vSessions.string() },
  returns: vSessions.object({
    valid: vSessions.boolean(),
    agentId: vSessions.union(vSessions.string(), vSessions.null()),
    expiresAt: vSessions.union(vSessions.number(), vSessions.null()),
    metadata: vSessions.union(vSessions.any(), vSessions.null()),
  }),
  // Possession of the token is the access check.
  handler: async (ctx, { token }) => await AgentSessions.validateAgentSession(ctx, token),
});

/**
 * Rotates a session: pass the refresh token, or the current unexpired session
 * token. The old pair stops working at once; a new pair comes back. Replaying
 * an already-used credential revokes the whole session family.
 *
 * An action on purpose: the reuse revocation must commit even though the
 * caller gets an error, and a mutation that throws rolls its writes back. The
 * internal mutation commits (and returns the refusal as a value); this action
 * then throws it.
 */
export const refreshSession = actionSessions({
  args: {
    refreshToken: vSessions.optional(vSessions.string()),
    token: vSessions.optional(vSessions.string()),
    ttl: vSessions.optional(vSessions.number()),
  },
  returns: vSessionPair,
  handler: async (ctx, args): Promise<AgentSessions.SessionPair> => {
    let info: { ip?: string; userAgent?: string } = {};
    try {
      const m = await ctx.meta.getRequestMetadata();
      info = { ip: m.ip ?? undefined, userAgent: m.userAgent?.slice(0, 256) ?? undefined };
    } catch {
      // no request metadata in this runtime
    }
    const result = await ctx.runMutation(internalSessions.sessions.rotate, { ...args, ...info });
    if (!result.ok) throw keyholeErrorSessions(result.code, result.message);
    return { token: result.token, refreshToken: result.refreshToken, sessionId: result.sessionId, expiresAt: result.expiresAt };
  },
});

/** Ends the session this token belongs to: it fails on its next request. */
export const endSession = mutationSessions({
  args: { token: vSessions.string() },
  returns: vSessions.null(),
  // Possession of the token is the access check.
  handler: async (ctx, { token }) => {
    await AgentSessions.endAgentSessionByToken(ctx, token);
    return null;
  },
});

const vWebSession = vSessions.object({
  sessionId: vSessions.id("webSessions"),
  authSessionId: vSessions.id("authSessions"),
  userAgent: vSessions.optional(vSessions.string()),
  ipAddress: vSessions.optional(vSessions.string()),
  createdAt: vSessions.number(),
  lastActiveAt: vSessions.number(),
});

/**
 * Records device facts for the caller's current sign-in (request metadata
 * first, the arguments as fallback). Idempotent; also marks it active.
 */
export const createWebSession = mutationSessions({
  args: { userAgent: vSessions.optional(vSessions.string()), ipAddress: vSessions.optional(vSessions.string()) },
  returns: vWebSession,
  handler: async (ctx, args) => await WebSessions.recordWebSession(ctx, args),
});

/** Whether one of the caller's own sign-ins (webSessions or authSessions id) is live. */
export const validateWebSession = querySessions({
  args: { sessionId: vSessions.string() },
  returns: vSessions.object({
    valid: vSessions.boolean(),
    sessionId: vSessions.union(vSessions.string(), vSessions.null()),
    authSessionId: vSessions.union(vSessions.id("authSessions"), vSessions.null()),
    current: vSessions.union(vSessions.boolean(), vSessions.null()),
    userAgent: vSessions.union(vSessions.string(), vSessions.null()),
    ipAddress: vSessions.union(vSessions.string(), vSessions.null()),
    createdAt: vSessions.union(vSessions.number(), vSessions.null()),
    lastActiveAt: vSessions.union(vSessions.number(), vSessions.null()),
    expiresAt: vSessions.union(vSessions.number(), vSessions.null()),
  }),
  handler: async (ctx, { sessionId }) => await WebSessions.checkWebSession(ctx, sessionId),
});
// ---- /section: sessions ----------------------------------------------------

// ---- section: oauth (connections) -----------------------------------------
import { v as vOAuth } from "convex/values";
import {
  action as actionOAuth,
  mutation as mutationOAuth,
  query as queryOAuth,
} from "./_generated/server";
import type { Id as IdOAuth } from "./_generated/dataModel";
import * as OAuthConnections from "./model/oauth/connections";
import * as OAuthFlows from "./model/oauth/flows";
import * as OAuthState from "./model/oauth/state";

/**
 * Starts connecting the signed-in person's account at `provider` (github,
 * slack, oauth2). `redirectUri` must exactly match an allowlisted URI.
 * Returns where to send the browser and the single-use state (10 minutes).
 */
export const initiateOAuth = mutationOAuth({
  args: { provider: vOAuth.string(), scopes: vOAuth.array(vOAuth.string()), redirectUri: vOAuth.string() },
  returns: vOAuth.object({ authUrl: vOAuth.string(), state: vOAuth.string() }),
  handler: async (ctx, args) => await OAuthState.initiate(ctx, args),
});

/**
 * Finishes the flow with the provider's `code`: consumes `state` (same person,
 * same provider, unexpired, unused — consumed whatever happens next),
 * exchanges the code, stores the tokens encrypted. An action: it calls the
 * provider, and the state's consumption must commit even when this fails.
 */
export const completeOAuth = actionOAuth({
  args: { provider: vOAuth.string(), code: vOAuth.string(), state: vOAuth.string() },
  returns: OAuthConnections.vCompleted,
  handler: async (
    ctx,
    args,
  ): Promise<{ connectionId: IdOAuth<"oauthConnections">; provider: string; scopes: string[]; expiresAt: number | null }> =>
    await OAuthFlows.complete(ctx, { ...args, mode: { kind: "user" } }),
});

/** The caller's connections (`connections:read`); never a token or any other secret. */
export const listOAuthConnections = queryOAuth({
  args: {},
  returns: vOAuth.array(OAuthConnections.vConnectionInfo),
  handler: async (ctx) => await OAuthConnections.listConnections(ctx),
});

/**
 * Disconnects `provider`: deletes the stored tokens now, then asks the
 * provider to revoke them (best effort). Idempotent: `revoked: false` when
 * there was nothing to revoke.
 */
export const revokeOAuth = actionOAuth({
  args: { provider: vOAuth.string() },
  returns: vOAuth.object({
    revoked: vOAuth.boolean(),
    connectionId: vOAuth.union(vOAuth.id("oauthConnections"), vOAuth.null()),
    providerRevoked: vOAuth.union(vOAuth.boolean(), vOAuth.null()),
  }),
  handler: async (
    ctx,
    args,
  ): Promise<{ revoked: boolean; connectionId: IdOAuth<"oauthConnections"> | null; providerRevoked: boolean | null }> =>
    await OAuthFlows.revoke(ctx, args.provider),
});
// ---- /section: oauth -------------------------------------------------------
