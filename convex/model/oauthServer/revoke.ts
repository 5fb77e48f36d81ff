/**
 * RFC 7009 revocation at `POST /oauth/revoke`: a client revokes an access
 * token or a refresh token it was issued; either ends the whole grant (its
 * session family), so the very next request with any of its tokens fails.
 * The answer is 200 whether or not the token existed (§2.2); a token issued
 * to another client is left alone, with the same answer (no oracle).
 */
import type { Doc } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { jwtExpiryMs, REFRESH_PREFIX } from "../agentSessions";
import { sha256Hex } from "../crypto";
import { authenticateClient, type ClientAuth } from "./clients";
import { endGrant, grantByFamily } from "./grants";

const MAX_TOKEN_CHARS = 4096;

/** The session row a presented token (access or refresh) belongs to, or null. */
export async function sessionOfToken(ctx: QueryCtx, token: string): Promise<{ row: Doc<"agentSessions">; kind: "access" | "refresh" } | null> {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
  const hash = await sha256Hex(token);
  if (token.startsWith(REFRESH_PREFIX)) {
    const row = await ctx.db
      .query("agentSessions")
      .withIndex("by_refresh_hash", (q) => q.eq("refreshHash", hash))
      .unique();
    return row === null ? null : { row, kind: "refresh" };
  }
  if (jwtExpiryMs(token) === null) return null;
  const row = await ctx.db
    .query("agentSessions")
    .withIndex("by_token_hash", (q) => q.eq("tokenHash", hash))
    .unique();
  return row === null ? null : { row, kind: "access" };
}

export async function revokeByClient(
  ctx: MutationCtx,
  r: { client: ClientAuth; token: string },
): Promise<{ ok: true } | { ok: false; error: "invalid_client" }> {
  const client = await authenticateClient(ctx, r.client);
  if (client === null) return { ok: false, error: "invalid_client" };
  const found = await sessionOfToken(ctx, r.token);
  const grant = found === null ? null : await grantByFamily(ctx, found.row.familyId);
  if (grant !== null && grant.clientId === client.clientId) {
    await endGrant(ctx, grant, "revoked_by_client", { kind: "agent", id: found!.row._id });
  }
  return { ok: true };
}
