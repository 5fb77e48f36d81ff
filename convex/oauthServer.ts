/**
 * keyhole as an OAuth authorization server (docs/oauth-server.md): thin
 * wrappers over convex/model/oauthServer/. The public functions serve the
 * dashboard (consent screen, connected apps) and need a signed-in person; the
 * internal ones back the HTTP endpoints in convex/model/oauthServer/http.ts.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation, internalQuery } from "./_generated/server";
import { userMutation, userQuery } from "./model/functions";
import { cacheCimdClient, clientById, registerClient, reapClients, vClientAuth, vRegistrationResult } from "./model/oauthServer/clients";
import { createAuthRequest as createRequest, decideConsent as decide, getConsentRequest, vConsentRequest, vDecision } from "./model/oauthServer/consent";
import { disconnectApp as disconnect, listConnectedApps as listApps, reapGrants, vConnectedApp } from "./model/oauthServer/grants";
import { introspectByClient, vIntrospectionResult } from "./model/oauthServer/introspect";
import { revokeByClient } from "./model/oauthServer/revoke";
import { exchangeCode as exchange, refreshGrant, vTokenResult } from "./model/oauthServer/token";
import { consume } from "./model/rateLimit";
import { requestInfo } from "./model/principal";
import { vPermission } from "./validators";

// --- the dashboard (a signed-in person; tokens get `forbidden`) ---------------

/** The authorization request behind a consent URL, with the person's orgs and roles. */
export const consentRequest = userQuery({
  action: "approve applications",
  args: { request: v.string() },
  returns: vConsentRequest,
  handler: async (ctx, args) => await getConsentRequest(ctx, args.request),
});

/** Approves (within the person's role) or denies; returns where to send the browser. */
export const decideConsent = userMutation({
  action: "approve applications",
  args: vDecision,
  returns: v.object({ redirectTo: v.string() }),
  handler: async (ctx, args) => await decide(ctx, args),
});

/** Apps holding live OAuth access for me. */
export const listConnectedApps = userQuery({
  action: "list connected apps",
  args: {},
  returns: v.array(vConnectedApp),
  handler: async (ctx) => await listApps(ctx),
});

/** Ends one app's access now (audited); its next request fails. */
export const disconnectApp = userMutation({
  action: "disconnect apps",
  args: { grantId: v.string() },
  returns: v.object({ sessionsEnded: v.number() }),
  handler: async (ctx, args) => await disconnect(ctx, args.grantId),
});

// --- the HTTP endpoints ----------------------------------------------------

const vClientView = v.object({
  clientId: v.string(),
  kind: v.union(v.literal("dcr"), v.literal("cimd")),
  name: v.string(),
  redirectUris: v.array(v.string()),
  fresh: v.boolean(),
});

export const clientForAuthorize = internalQuery({
  args: { clientId: v.string() },
  returns: v.union(vClientView, v.null()),
  handler: async (ctx, { clientId }) => {
    const c = await clientById(ctx, clientId);
    if (c === null || c.reapAt <= Date.now()) return null;
    return { clientId: c.clientId, kind: c.kind, name: c.name, redirectUris: c.redirectUris, fresh: c.kind === "dcr" || (c.staleAt ?? 0) > Date.now() };
  },
});

/** Counts one metadata-document fetch against the requester's IP; returns ms to wait (0 = go). */
export const noteCimdFetch = internalMutation({
  args: {},
  returns: v.number(),
  handler: async (ctx) => {
    const info = await requestInfo(ctx);
    return await consume(ctx, `oauth-cimd-fetch:ip:${info.ip ?? "unknown"}`, { max: 60, windowMs: 60 * 60_000 });
  },
});

export const cacheClient = internalMutation({
  args: {
    client: v.object({
      clientId: v.string(),
      name: v.string(),
      redirectUris: v.array(v.string()),
      clientUri: v.optional(v.string()),
      logoUri: v.optional(v.string()),
      grantTypes: v.array(v.string()),
      scope: v.optional(v.string()),
    }),
    maxAgeS: v.number(),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    await cacheCimdClient(ctx, args.client, args.maxAgeS);
    return null;
  },
});

export const register = internalMutation({
  args: {
    request: v.object({
      redirect_uris: v.array(v.string()),
      client_name: v.optional(v.string()),
      client_uri: v.optional(v.string()),
      logo_uri: v.optional(v.string()),
      grant_types: v.optional(v.array(v.string())),
      response_types: v.optional(v.array(v.string())),
      token_endpoint_auth_method: v.optional(v.string()),
      scope: v.optional(v.string()),
    }),
  },
  returns: vRegistrationResult,
  handler: async (ctx, args) => await registerClient(ctx, args.request),
});

export const createAuthRequest = internalMutation({
  args: {
    clientId: v.string(),
    redirectUri: v.string(),
    state: v.optional(v.string()),
    codeChallenge: v.string(),
    resource: v.string(),
    permissions: v.array(vPermission),
  },
  returns: v.union(v.object({ ok: v.literal(true), requestId: v.string() }), v.object({ ok: v.literal(false) })),
  handler: async (ctx, args) => await createRequest(ctx, args),
});

export const exchangeCode = internalMutation({
  args: {
    client: vClientAuth,
    code: v.string(),
    codeVerifier: v.optional(v.string()),
    redirectUri: v.optional(v.string()),
    resource: v.optional(v.string()),
  },
  returns: vTokenResult,
  handler: async (ctx, args) => await exchange(ctx, args),
});

export const refresh = internalMutation({
  args: { client: vClientAuth, refreshToken: v.string(), resource: v.optional(v.string()), scope: v.optional(v.string()) },
  returns: vTokenResult,
  handler: async (ctx, args) => await refreshGrant(ctx, args),
});

export const revokeToken = internalMutation({
  args: { client: vClientAuth, token: v.string() },
  returns: v.union(v.object({ ok: v.literal(true) }), v.object({ ok: v.literal(false), error: v.literal("invalid_client") })),
  handler: async (ctx, args) => await revokeByClient(ctx, args),
});

export const introspectToken = internalQuery({
  args: { client: vClientAuth, token: v.string() },
  returns: vIntrospectionResult,
  handler: async (ctx, args) => await introspectByClient(ctx, args),
});

/** Housekeeping (cron): unused clients, expired requests and codes, long-dead grants. */
export const reap = internalMutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    const more = (await reapClients(ctx)) || (await reapGrants(ctx));
    if (more) await ctx.scheduler.runAfter(0, internal.oauthServer.reap, {});
    return null;
  },
});
