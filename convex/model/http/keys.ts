/**
 * keyhole's public JWKS: `GET /keyhole/jwks.json`.
 *
 * Convex verifies PATs and agent session tokens against it (the customJwt
 * provider in auth.config.ts), and anyone can check a found token's
 * signature with it. It holds the current signing key (KEYHOLE_SIGNING_KEY)
 * and every retired key that may still have live tokens (notAfter > now),
 * except keys retired as compromised (keys:revokeKey): those leave at once.
 */
import { httpActionGeneric, type HttpRouter } from "convex/server";
import { internal } from "../../_generated/api";
import type { QueryCtx } from "../../_generated/server";
import { currentSigningKey, type PublicJwk } from "../keys";

export const JWKS_PATH = "/keyhole/jwks.json";
export const JWKS_CACHE_CONTROL = "public, max-age=60";
/** Retired keys served at most (rotations are rare; a few suffice). */
export const MAX_RETIRED_KEYS = 20;

/** Retired public keys that may still verify a live token. */
export async function retiredPublicKeys(ctx: Pick<QueryCtx, "db">, now: number): Promise<PublicJwk[]> {
  const rows = await ctx.db.query("retiredSigningKeys").order("desc").take(MAX_RETIRED_KEYS);
  return rows
    .filter((r) => r.notAfter > now && r.compromisedAt === undefined)
    .map((r) => JSON.parse(r.publicJwk) as PublicJwk);
}

/** Every key a keyhole token may be verified with: the current one first. */
export async function verificationKeys(ctx: Pick<QueryCtx, "db">): Promise<PublicJwk[]> {
  const current = (await currentSigningKey()).publicJwk;
  const retired = await retiredPublicKeys(ctx, Date.now());
  return [current, ...retired.filter((k) => k.kid !== current.kid)];
}

export function registerKeyRoutes(http: HttpRouter): void {
  http.route({
    path: JWKS_PATH,
    method: "GET",
    handler: httpActionGeneric(async (ctx) => {
      const keys: PublicJwk[] = await ctx.runQuery(internal.keys.verificationKeys, {});
      return new Response(JSON.stringify({ keys }), {
        status: 200,
        headers: {
          "Content-Type": "application/json",
          "Cache-Control": JWKS_CACHE_CONTROL,
          "Access-Control-Allow-Origin": "*",
        },
      });
    }),
  });
}
