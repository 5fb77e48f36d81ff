/**
 * The operations on credentials, served by the HTTP API only: PATs by name,
 * agent sessions, RFC 7662 introspection and leaked-token reports.
 */
import { v } from "convex/values";
import { z } from "zod";
import { internal } from "../../_generated/api";
import type { ActionCtx } from "../../_generated/server";
import { keyholeError } from "../errors";
import { whyNotStorable } from "../storable";
import { createTokenArgs, vCreatedToken, vRevokeResult, vTokenDetails, vTokenInfo } from "../tokens";
import { vScopeInput } from "../../validators";
import { vIntrospection } from "./authn";
import { bearerOf, HttpError, invalidCredential, missingCredential, parseWith, tooManyFailures } from "./common";
import { inspect } from "./guard";
import { type Operation, operation } from "./operations";

// The surface's bounds on what callers send (the Convex validators say only the types).
const zScopeEntry = z.object({
  resource: z.string().max(200).optional(),
  permissions: z.array(z.string().max(64)).max(50),
  allowedMatches: z.array(z.string().max(128)).max(20).optional(),
});
const zScopes = z.array(z.union([z.string().max(300), zScopeEntry])).max(50);
const positiveInt = (s: z.ZodOptional<z.ZodNumber>) => s.unwrap().int().positive().optional();

const vStatus = v.union(v.literal("active"), v.literal("expired"), v.literal("revoked"), v.literal("all"));
const zStatus = z.enum(["active", "expired", "revoked", "all"]).default("all");

/** The caller's token called `name`: the active one, else the newest. */
async function patByName(ctx: ActionCtx, name: string, activeOnly: boolean) {
  const { tokens } = await ctx.runQuery(internal.auth.listApiTokensInternal, { status: activeOnly ? "active" : "all" });
  const same = tokens.filter((t) => t.name === name);
  const found = same.find((t) => t.status === "active") ?? same[0];
  if (!found) throw new HttpError(404, "not_found", `no ${activeOnly ? "active " : ""}token named "${name.slice(0, 64)}"`);
  return found;
}

const listPats = operation({
  name: "list_pats",
  access: "person",
  args: { status: v.optional(vStatus) },
  returns: v.object({ tokens: v.array(vTokenInfo) }),
  run: async ({ ctx }, a) => await ctx.runQuery(internal.auth.listApiTokensInternal, a),
  http: {
    method: "GET",
    path: "/api/pats",
    input: ({ url }) => ({ status: parseWith(zStatus, url.searchParams.get("status") ?? undefined) }),
  },
});

const createPat = operation({
  name: "create_pat",
  access: "person",
  args: createTokenArgs,
  returns: vCreatedToken,
  fields: {
    name: (s) => s.min(1).max(64),
    scopes: () => zScopes.default([]),
    expiresIn: positiveInt,
    description: (s) => s.unwrap().max(256).optional(),
    type: () => z.enum(["PAT", "MCP"]).optional(),
  },
  run: async ({ ctx }, a) => await ctx.runMutation(internal.auth.createApiTokenInternal, a),
  http: { method: "POST", path: "/api/pats", status: 201, input: (r) => r.body({ strict: true }) },
});

const getPat = operation({
  name: "get_pat",
  access: "person",
  args: { name: v.string() },
  returns: vTokenDetails,
  run: async ({ ctx }, a) => {
    const found = await patByName(ctx, a.name, false);
    return await ctx.runQuery(internal.auth.getApiTokenInternal, { tokenId: found._id });
  },
  http: { method: "GET", path: "/api/pats/:name", input: ({ params }) => ({ name: params.name }) },
});

const revokePat = operation({
  name: "revoke_pat",
  access: "person",
  args: { name: v.string() },
  returns: vRevokeResult,
  run: async ({ ctx }, a) => {
    const found = await patByName(ctx, a.name, true);
    return await ctx.runMutation(internal.auth.revokeApiTokenInternal, { tokenId: found._id });
  },
  http: { method: "DELETE", path: "/api/pats/:name", input: ({ params }) => ({ name: params.name }) },
});

const createSession = operation({
  name: "create_session",
  access: "credential",
  args: {
    agentId: v.string(),
    ttl: v.optional(v.number()),
    metadata: v.optional(v.any()),
    scopes: v.optional(v.array(vScopeInput)),
  },
  returns: v.object({ token: v.string(), refreshToken: v.string(), sessionId: v.id("agentSessions"), expiresAt: v.number() }),
  fields: {
    agentId: (s) => s.min(1).max(128),
    ttl: positiveInt,
    metadata: () => z.record(z.string(), z.unknown()).optional(),
    scopes: () => zScopes.optional(),
  },
  run: async ({ ctx }, a) => {
    const why = a.metadata === undefined ? null : whyNotStorable(a.metadata);
    if (why !== null) throw keyholeError("invalid_argument", `metadata cannot be stored: ${why}`);
    return await ctx.runMutation(internal.auth.createSessionInternal, a);
  },
  http: { method: "POST", path: "/api/sessions", status: 201, input: (r) => r.body({ strict: true }) },
});

/**
 * With `{refreshToken}` the refresh token is the credential (no bearer needed,
 * the session token may have expired) and the pair rotates; without it, the
 * bearer is the current, unexpired session token and only a new session token
 * comes back (never a refresh token, never a later expiry). A refusal
 * (unknown, ended, replayed, expired) is 400 `invalid_grant` (RFC 6749 §5.2);
 * a replay has then already ended the whole session family.
 */
const refreshSession = operation({
  name: "refresh_session",
  access: "public",
  args: { refreshToken: v.optional(v.string()), ttl: v.optional(v.number()) },
  returns: v.object({ token: v.string(), refreshToken: v.optional(v.string()), sessionId: v.id("agentSessions"), expiresAt: v.number() }),
  fields: { refreshToken: (s) => s.unwrap().min(1).max(512).optional(), ttl: positiveInt },
  run: async ({ ctx, req }, a) => {
    let args: { refreshToken: string } | { token: string };
    if (a.refreshToken !== undefined) args = { refreshToken: a.refreshToken };
    else {
      const bearer = bearerOf(req);
      if (!bearer.present) throw missingCredential();
      if (bearer.token === null) throw invalidCredential();
      args = { token: bearer.token };
    }
    const result = await ctx.runMutation(internal.auth.refreshSessionInternal, { ...args, ttl: a.ttl });
    if (!result.ok) throw new HttpError(400, "invalid_grant", result.message);
    const { ok: _ok, ...credentials } = result;
    return credentials;
  },
  http: { method: "POST", path: "/api/sessions/refresh", input: (r) => r.body({ strict: true }) },
});

const endSession = operation({
  name: "end_session",
  access: "credential",
  args: {},
  returns: v.object({ ended: v.boolean(), sessionId: v.id("agentSessions") }),
  run: async ({ ctx, who, token }) => {
    if (who!.kind !== "agent") {
      throw new HttpError(400, "invalid_argument", "DELETE /api/sessions ends the agent session whose token you present");
    }
    await ctx.runMutation(internal.auth.endSessionInternal, { token });
    return { ended: true, sessionId: who!.sessionId! };
  },
  http: { method: "DELETE", path: "/api/sessions" },
});

const tokenArgs = { token: v.string(), token_type_hint: v.optional(v.string()) };
const tokenFields = {
  token: (s: z.ZodString) => s.min(1).max(8192),
  token_type_hint: (s: z.ZodOptional<z.ZodString>) => s.unwrap().max(64).optional(),
};

/**
 * RFC 7662. The caller authenticates; the token to inspect is in the body
 * (form-encoded or JSON). Unknown, foreign, expired or revoked → `{active:
 * false}` and nothing else. Inspecting a token other than the presented one
 * needs `tokens:read`.
 */
const introspectToken = operation({
  name: "introspect_token",
  access: "credential",
  args: tokenArgs,
  returns: vIntrospection,
  fields: tokenFields,
  run: async ({ ctx }, a) => {
    const seen = await inspect(ctx, a.token);
    if (seen === null || seen.expired) return { active: false as const };
    return await ctx.runQuery(internal.httpInternal.introspect, { kind: seen.kind, id: seen.id, tokenHash: seen.tokenHash });
  },
  http: { method: "POST", path: "/api/tokens/introspect", input: (r) => r.body({ strict: false, allowForm: true }) },
});

export const LEAK_ANSWER = {
  received: true,
  message: "Thank you. If this is a live keyhole token it has been revoked, and its owner has been told.",
};

/**
 * Anyone may report a keyhole token as leaked (no credential needed). If its
 * signature is ours and it is live it is revoked now; the answer is the same
 * either way. Rate-limited per IP.
 */
const reportLeakedToken = operation({
  name: "report_leaked_token",
  access: "public",
  args: tokenArgs,
  returns: v.object({ received: v.boolean(), message: v.string() }),
  fields: tokenFields,
  run: async ({ ctx }, a) => {
    const seen = await inspect(ctx, a.token);
    const wait: number = await ctx.runMutation(internal.httpInternal.reportLeak, {
      token: seen && { kind: seen.kind, id: seen.id, tokenHash: seen.tokenHash },
    });
    if (wait > 0) {
      const e = tooManyFailures(wait);
      throw new HttpError(429, "rate_limited", "too many leak reports from this address: try again later", e.headers);
    }
    return LEAK_ANSWER;
  },
  http: { method: "POST", path: "/api/tokens/revoke-leaked", status: 202, input: (r) => r.body({ strict: false, allowForm: true }) },
});

export const CREDENTIAL_OPS: readonly Operation[] = [
  listPats,
  createPat,
  getPat,
  revokePat,
  createSession,
  refreshSession,
  endSession,
  introspectToken,
  reportLeakedToken,
];
