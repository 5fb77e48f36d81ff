/**
 * The token endpoint's two grants (RFC 6749 §4.1.3 and §6, OAuth 2.1):
 *
 * authorization_code — the code must be unused, unexpired, issued to this
 *   client for this redirect URI, and its PKCE S256 challenge must match the
 *   verifier; `resource`, when sent, must be the one authorized (RFC 8707).
 *   A replayed code is refused AND the grant it produced is revoked
 *   (RFC 6749 §4.1.2). Success: a new agent-session family for the person,
 *   with the consented scopes, recorded as a grant bound to client + resource.
 *
 * refresh_token — the refresh token must belong to a grant of this client.
 *   It rotates (agentRefresh.refreshAgentSession, with its reuse detection).
 *   One exception: a refresh token rotated less than REFRESH_GRACE_MS ago is
 *   a concurrent refresh, not theft — it gets a sibling pair in the same
 *   family (at most MAX_LIVE_PER_GRANT live at once). Later reuse revokes the
 *   whole grant.
 *
 * These run as one mutation each and report refusals as values, so that a
 * revocation they decide on commits even though the client gets an error.
 */
import { v, type Infer } from "convex/values";
import type { Doc } from "../../_generated/dataModel";
import type { MutationCtx } from "../../_generated/server";
import { refreshAgentSession } from "../agentRefresh";
import { FAMILY_LIFETIME_MS, insertSessionRow, REFRESH_PREFIX, type SessionPair } from "../agentSessions";
import { logAudit, logSessionAudit } from "../audit";
import { constantTimeEqual, sha256Hex } from "../crypto";
import { s256Challenge } from "../oauth/pkce";
import { authenticateClient, clientById, type ClientAuth, keepClient } from "./clients";
import { ACCESS_TTL_S, agentIdFor, canonicalResource, MAX_LIVE_PER_GRANT, REFRESH_GRACE_MS, strictPermissions } from "./config";
import { endGrant, grantByFamily } from "./grants";

export const vTokenResult = v.union(
  v.object({
    ok: v.literal(true),
    tokens: v.object({
      access_token: v.string(),
      token_type: v.literal("Bearer"),
      expires_in: v.number(),
      refresh_token: v.string(),
      scope: v.string(),
    }),
  }),
  v.object({ ok: v.literal(false), status: v.number(), error: v.string(), description: v.string() }),
);
export type TokenResult = Infer<typeof vTokenResult>;

const refuse = (error: string, description: string, status = 400): TokenResult => ({ ok: false, status, error, description });
const INVALID_CLIENT = refuse("invalid_client", "client authentication failed", 401);
const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

function tokensOf(pair: SessionPair, permissions: string[]): TokenResult {
  return {
    ok: true,
    tokens: {
      access_token: pair.token,
      token_type: "Bearer",
      expires_in: Math.max(1, Math.floor((pair.expiresAt - Date.now()) / 1000)),
      refresh_token: pair.refreshToken,
      scope: permissions.join(" "),
    },
  };
}

export type CodeExchange = { client: ClientAuth; code: string; codeVerifier?: string; redirectUri?: string; resource?: string };

/** Checks a code against the request; the refusal, or null when it may be exchanged. */
async function codeProblem(c: Doc<"oauthCodes">, clientId: string, x: CodeExchange): Promise<TokenResult | null> {
  if (c.clientId !== clientId) return refuse("invalid_grant", "the code was issued to another client");
  if (c.expiresAt <= Date.now()) return refuse("invalid_grant", "the code has expired");
  if (x.redirectUri !== c.redirectUri) return refuse("invalid_grant", "redirect_uri does not match the authorization request");
  if (x.codeVerifier === undefined || !PKCE_VERIFIER.test(x.codeVerifier)) {
    return refuse("invalid_grant", "code_verifier is missing or malformed (PKCE is required)");
  }
  if (!constantTimeEqual(await s256Challenge(x.codeVerifier), c.codeChallenge)) return refuse("invalid_grant", "code_verifier does not match the code_challenge");
  if (x.resource !== undefined && canonicalResource(x.resource) !== c.resource) {
    return refuse("invalid_target", "resource does not match the one authorized");
  }
  return null;
}

export async function exchangeCode(ctx: MutationCtx, x: CodeExchange): Promise<TokenResult> {
  const client = await authenticateClient(ctx, x.client);
  if (client === null) return INVALID_CLIENT;
  const codeHash = await sha256Hex(x.code);
  const code = await ctx.db
    .query("oauthCodes")
    .withIndex("by_hash", (q) => q.eq("codeHash", codeHash))
    .unique();
  if (code === null) return refuse("invalid_grant", "unknown authorization code");
  if (code.usedAt !== undefined) {
    const grant = code.grantId === undefined ? null : await ctx.db.get("oauthGrants", code.grantId);
    if (grant !== null) await endGrant(ctx, grant, "code_replayed", { kind: "anonymous" });
    return refuse("invalid_grant", "the authorization code was already used: the tokens issued for it are revoked");
  }
  await ctx.db.patch("oauthCodes", code._id, { usedAt: Date.now() }); // single use, whatever happens next
  const problem = await codeProblem(code, client.clientId, x);
  if (problem !== null) return problem;

  const registered = await clientById(ctx, client.clientId);
  const clientName = registered?.name ?? "app";
  const familyExpiresAt = Date.now() + FAMILY_LIFETIME_MS;
  const pair = await insertSessionRow(ctx, {
    userId: code.userId,
    agentId: agentIdFor(clientName),
    scopes: code.scopes,
    ttlS: ACCESS_TTL_S,
    familyExpiresAt,
    audience: code.resource,
  });
  const grantId = await ctx.db.insert("oauthGrants", {
    userId: code.userId,
    clientId: client.clientId,
    clientName,
    clientKind: registered?.kind ?? "dcr",
    familyId: pair.sessionId,
    resource: code.resource,
    permissions: code.permissions,
    scopes: code.scopes,
    createdAt: Date.now(),
    familyExpiresAt,
  });
  await ctx.db.patch("oauthCodes", code._id, { grantId });
  await keepClient(ctx, client.clientId, familyExpiresAt);
  await logAudit(ctx, {
    userId: code.userId,
    action: "oauth.grant_created",
    actor: { kind: "anonymous" },
    targetType: "oauthGrant",
    targetId: grantId,
    details: `client=${clientName.slice(0, 80)} resource=${code.resource} scope=${code.permissions.join(" ")} session=${pair.sessionId}`,
  });
  return tokensOf(pair, code.permissions);
}

export type RefreshRequest = { client: ClientAuth; refreshToken: string; resource?: string; scope?: string };

export async function refreshGrant(ctx: MutationCtx, r: RefreshRequest): Promise<TokenResult> {
  const client = await authenticateClient(ctx, r.client);
  if (client === null) return INVALID_CLIENT;
  const unknown = refuse("invalid_grant", "unknown, expired or revoked refresh token");
  if (!r.refreshToken.startsWith(REFRESH_PREFIX) || r.refreshToken.length > 128) return unknown;
  const refreshHash = await sha256Hex(r.refreshToken);
  const row = await ctx.db
    .query("agentSessions")
    .withIndex("by_refresh_hash", (q) => q.eq("refreshHash", refreshHash))
    .unique();
  const grant = row === null ? null : await grantByFamily(ctx, row.familyId);
  if (row === null || grant === null || grant.clientId !== client.clientId) return unknown;
  if (grant.revokedAt !== undefined) return unknown;
  if (r.resource !== undefined && canonicalResource(r.resource) !== grant.resource) {
    return refuse("invalid_target", "resource does not match the one authorized");
  }
  if (r.scope !== undefined) {
    const asked = strictPermissions(r.scope);
    if (asked === null || asked.some((p) => !grant.permissions.includes(p))) {
      return refuse("invalid_scope", "a refresh cannot add scopes: authorize again for more");
    }
  }
  const now = Date.now();
  if (row.endedAt !== undefined && row.endReason === "refreshed" && now - row.endedAt <= REFRESH_GRACE_MS && row.familyExpiresAt > now) {
    const live = await ctx.db
      .query("agentSessions")
      .withIndex("by_family", (q) => q.eq("familyId", row.familyId).eq("endedAt", undefined))
      .take(MAX_LIVE_PER_GRANT);
    if (live.length > 0 && live.length < MAX_LIVE_PER_GRANT) {
      const pair = await insertSessionRow(ctx, {
        userId: row.userId,
        agentId: row.agentId,
        scopes: row.scopes,
        ttlS: ACCESS_TTL_S,
        familyId: row.familyId,
        familyExpiresAt: row.familyExpiresAt,
        audience: grant.resource,
      });
      await logSessionAudit(ctx, row, {
        action: "oauth.refresh_concurrent",
        targetType: "oauthGrant",
        targetId: grant._id,
        details: `client=${grant.clientName.slice(0, 80)} within ${REFRESH_GRACE_MS / 1000} s of the last refresh: sibling ${pair.sessionId}`,
      });
      return tokensOf(pair, grant.permissions);
    }
  }
  const rotated = await refreshAgentSession(ctx, { refreshToken: r.refreshToken, viaOAuthTokenEndpoint: true });
  if (!rotated.ok) {
    if (rotated.code === "revoked" && row.endReason === "refreshed") {
      await ctx.db.patch("oauthGrants", grant._id, { revokedAt: now, revokedReason: "refresh_token_reused" });
    }
    return refuse("invalid_grant", rotated.code === "expired" ? "the grant reached its lifetime: authorize again" : "unknown, expired or revoked refresh token");
  }
  // A refresh by refresh token always returns the next one (agentRefresh.ts).
  if (rotated.refreshToken === undefined) throw new Error("refresh by refresh token returned no refresh token");
  await keepClient(ctx, client.clientId, grant.familyExpiresAt);
  return tokensOf({ ...rotated, refreshToken: rotated.refreshToken }, grant.permissions);
}
