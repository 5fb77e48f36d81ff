/**
 * RFC 7662 introspection at `POST /oauth/introspect`, for the client a token
 * was issued to: `{active: true, scope, client_id, …}` for its own live
 * tokens, `{active: false}` for anything else (unknown, ended, expired,
 * another client's). `scope` is the space-separated permission names, the
 * values of `scopes_supported`.
 */
import { v, type Infer } from "convex/values";
import type { QueryCtx } from "../../_generated/server";
import { authenticateClient, type ClientAuth } from "./clients";
import { issuer } from "./config";
import { grantByFamily } from "./grants";
import { sessionOfToken } from "./revoke";

export const vIntrospectionResult = v.union(
  v.object({ ok: v.literal(false), error: v.literal("invalid_client") }),
  v.object({ ok: v.literal(true), body: v.union(
    v.object({ active: v.literal(false) }),
    v.object({
      active: v.literal(true),
      scope: v.string(),
      client_id: v.string(),
      token_type: v.string(),
      exp: v.number(),
      iat: v.number(),
      sub: v.string(),
      aud: v.string(),
      iss: v.string(),
      username: v.optional(v.string()),
    }),
  ) }),
);
export type IntrospectionResult = Infer<typeof vIntrospectionResult>;

export async function introspectByClient(ctx: QueryCtx, r: { client: ClientAuth; token: string }): Promise<IntrospectionResult> {
  const client = await authenticateClient(ctx, r.client);
  if (client === null) return { ok: false, error: "invalid_client" };
  const inactive: IntrospectionResult = { ok: true, body: { active: false } };
  const found = await sessionOfToken(ctx, r.token);
  if (found === null) return inactive;
  const { row, kind } = found;
  const grant = await grantByFamily(ctx, row.familyId);
  const now = Date.now();
  const exp = kind === "access" ? row.expiresAt : row.familyExpiresAt;
  if (grant === null || grant.clientId !== client.clientId || grant.revokedAt !== undefined || row.endedAt !== undefined || exp <= now) {
    return inactive;
  }
  const user = await ctx.db.get("users", row.userId);
  return {
    ok: true,
    body: {
      active: true,
      scope: grant.permissions.join(" "),
      client_id: grant.clientId,
      token_type: kind === "access" ? "Bearer" : "refresh_token",
      exp: Math.floor(exp / 1000),
      iat: Math.floor(row.createdAt / 1000),
      sub: row.userId,
      aud: grant.resource,
      iss: issuer(),
      ...(user?.email ? { username: user.email } : {}),
    },
  };
}
