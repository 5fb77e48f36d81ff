/**
 * OAuth connections, for agents and for the flows in convex/auth.ts (section
 * "oauth"): `getConnectionToken` vends a fresh provider access token to a
 * caller with `connections:use`; `listProviders` says what is configured.
 * The internal functions are the database halves of the actions.
 */
import { v } from "convex/values";
import { action, internalAction, internalMutation, internalQuery, query } from "./_generated/server";
import { internal } from "./_generated/api";
import { requirePrincipal } from "./model/principal";
import * as Complete from "./model/oauth/complete";
import * as Connections from "./model/oauth/connections";
import { vActor, vNewTokens, vProvider, vRequestInfo, vVendedToken } from "./model/oauth/connections";
import * as Flows from "./model/oauth/flows";
import { callbackUrl, configuredProviders } from "./model/oauth/providers";
import * as State from "./model/oauth/state";
import { vErrorCode } from "./validators";

/** A fresh access token for the caller's connection to `provider` (needs `connections:use`; audited). */
export const getConnectionToken = action({
  args: { provider: v.string() },
  returns: vVendedToken,
  handler: async (ctx, args): Promise<{ accessToken: string; expiresAt: number | null; scopes: string[] }> =>
    await Flows.vend(ctx, args.provider),
});

/** The providers this deployment has configured (no secrets: ids, names, default scopes, callback URL). */
export const listProviders = query({
  args: {},
  returns: v.array(
    v.object({
      provider: vProvider,
      name: v.string(),
      defaultScopes: v.array(v.string()),
      pkce: v.boolean(),
      callbackUrl: v.string(),
    }),
  ),
  handler: async (ctx) => {
    await requirePrincipal(ctx);
    return configuredProviders().providers.map((p) => ({
      provider: p.id,
      name: p.displayName,
      defaultScopes: p.defaultScopes,
      pkce: p.pkce,
      callbackUrl: callbackUrl(p.id),
    }));
  },
});

// --- internal: state -------------------------------------------------------------

export const consumeState = internalMutation({
  args: { stateHash: v.string(), provider: v.string(), mode: State.vConsumeMode, info: v.optional(vRequestInfo) },
  returns: State.vConsumeResult,
  handler: async (ctx, args) => await State.consumeState(ctx, args),
});

export const bindBrowser = internalMutation({
  args: { state: v.string(), provider: v.string(), bindingHash: v.string() },
  returns: State.vBindResult,
  handler: async (ctx, args) => await State.bindBrowser(ctx, args),
});

// --- internal: completeOAuth's scheduled exchange (model/oauth/complete.ts) -------

/** Exchanges the code completeOAuth left encrypted on the state; records the outcome on the connection. */
export const completeExchange = internalAction({
  args: { stateId: v.id("oauthStates"), info: v.optional(vRequestInfo) },
  returns: v.null(),
  handler: async (ctx, args) => {
    await Complete.runExchange(ctx, args.stateId, args.info);
    return null;
  },
});

export const claimExchange = internalMutation({
  args: { stateId: v.id("oauthStates") },
  returns: Complete.vClaim,
  handler: async (ctx, args) => await Complete.claimExchange(ctx, args.stateId),
});

export const failExchange = internalMutation({
  args: {
    connectionId: v.id("oauthConnections"),
    error: v.object({ code: vErrorCode, reason: v.string(), message: v.string() }),
    info: v.optional(vRequestInfo),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    await Complete.failExchange(ctx, args.connectionId, args.error, args.info);
    return null;
  },
});

export const finishExchange = internalMutation({
  args: {
    connectionId: v.id("oauthConnections"),
    userId: v.id("users"),
    provider: vProvider,
    accountId: v.optional(v.string()),
    accountLogin: v.optional(v.string()),
    requestedScopes: v.array(v.string()),
    tokens: vNewTokens,
    info: v.optional(vRequestInfo),
  },
  returns: v.boolean(),
  handler: async (ctx, args) => await Complete.finishExchange(ctx, args),
});

// --- internal: connections -------------------------------------------------------

export const storeConnection = internalMutation({
  args: {
    userId: v.id("users"),
    provider: vProvider,
    accountId: v.optional(v.string()),
    accountLogin: v.optional(v.string()),
    requestedScopes: v.array(v.string()),
    tokens: vNewTokens,
    info: v.optional(vRequestInfo),
  },
  returns: Connections.vCompleted,
  handler: async (ctx, args) =>
    await Connections.storeConnection(ctx, { ...args, actor: { kind: "user", id: args.userId } }),
});

export const beginVend = internalMutation({
  args: { provider: vProvider, info: v.optional(vRequestInfo) },
  returns: Connections.vVendStep,
  handler: async (ctx, args) => await Connections.beginVend(ctx, args.provider, args.info),
});

export const finishRefresh = internalMutation({
  args: {
    connectionId: v.id("oauthConnections"),
    lockId: v.string(),
    tokens: vNewTokens,
    actor: vActor,
    info: v.optional(vRequestInfo),
  },
  returns: vVendedToken,
  handler: async (ctx, args) => await Connections.finishRefresh(ctx, args),
});

export const failRefresh = internalMutation({
  args: {
    connectionId: v.id("oauthConnections"),
    lockId: v.string(),
    permanent: v.boolean(),
    reason: v.string(),
    actor: vActor,
    info: v.optional(vRequestInfo),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    await Connections.failRefresh(ctx, args);
    return null;
  },
});

export const takeForRevoke = internalMutation({
  args: { provider: vProvider, info: v.optional(vRequestInfo) },
  returns: Connections.vTakenForRevoke,
  handler: async (ctx, args) => await Connections.takeForRevoke(ctx, args.provider, args.info),
});

// --- internal: key rotation (docs/oauth.md) -----------------------------------

/**
 * Re-encrypts connections still under an older key with the current one, in
 * batches; schedules itself until none remain. Run after putting a new key
 * first in KEYHOLE_ENCRYPTION_KEYS: `npx convex run oauth:reencryptConnections`.
 */
export const reencryptConnections = internalMutation({
  args: { batchSize: v.optional(v.number()) },
  returns: v.object({ reencrypted: v.number(), unreadable: v.number(), more: v.boolean() }),
  handler: async (ctx, args) => {
    const result = await Connections.reencryptBatch(ctx, args.batchSize);
    if (result.more) await ctx.scheduler.runAfter(0, internal.oauth.reencryptConnections, args);
    return result;
  },
});

/** How many connections each configured key still encrypts (0 for an old key = safe to remove it). */
export const encryptionStatus = internalQuery({
  args: {},
  returns: v.object({
    currentKeyId: v.string(),
    rowsByKey: v.array(v.object({ keyId: v.string(), rows: v.number() })),
  }),
  handler: async (ctx) => await Connections.keyUsage(ctx),
});
