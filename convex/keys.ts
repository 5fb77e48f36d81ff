/**
 * Signing-key rotation (internal; run by scripts/rotate-signing-key.ts or
 * `npx convex run`).
 *
 * - For hygiene (publishKey, retireKey): a new key signs new tokens; the old
 *   public key stays in the JWKS until the last token it signed has expired,
 *   so nobody's token breaks. A forger holding the old key still gets nowhere:
 *   every record is bound to the token signed for it (model/keyTrust.ts).
 * - For a compromise (revokeKey): the key stops being trusted at once — out
 *   of the JWKS, every token it signed refused on its next request — and its
 *   PATs are revoked and its sessions ended in batches. Their owners create
 *   new tokens.
 */
import { v } from "convex/values";
import type { JWK } from "jose";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { internalMutation, internalQuery, type MutationCtx } from "./_generated/server";
import { keyholeError } from "./model/errors";
import { revokeBatchOfKey } from "./model/keyRevocation";
import { retiredKeyRow } from "./model/keyTrust";
import { verificationKeys as loadVerificationKeys } from "./model/http/keys";
import { currentSigningKey, keyIdOf, publicPart } from "./model/keys";
import { MAX_EXPIRES_IN_S } from "./model/tokens";

/** Longest an agent session token lives (they are short-lived; sessions carry no key id). */
export const AGENT_SESSION_MAX_TTL_MS = 24 * 3600_000;
/** Margin for clocks and caches. */
const SLACK_MS = 10 * 60_000;

function parseP256(text: string): JWK {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw keyholeError("invalid_argument", "publicJwk must be a JSON EC P-256 JWK");
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y) {
    throw keyholeError("invalid_argument", "publicJwk must be an EC P-256 JWK with x and y");
  }
  return jwk;
}

/** One row per key id in retiredSigningKeys: insert, or move its notAfter (never for a compromised key). */
async function upsertKey(ctx: MutationCtx, keyId: string, publicJwk: string, notAfter: number, now: number) {
  const existing = await retiredKeyRow(ctx, keyId);
  if (existing?.compromisedAt !== undefined) {
    throw keyholeError("conflict", `${keyId} was retired as compromised: it can never be trusted again`);
  }
  if (existing !== null) await ctx.db.patch("retiredSigningKeys", existing._id, { notAfter, publicJwk });
  else await ctx.db.insert("retiredSigningKeys", { keyId, publicJwk, retiredAt: now, notAfter });
}

const vJwk = v.object({
  kty: v.string(),
  crv: v.optional(v.string()),
  x: v.optional(v.string()),
  y: v.optional(v.string()),
  kid: v.string(),
  alg: v.optional(v.string()),
  use: v.optional(v.string()),
});

/** The JWKS keys: current signing key plus retired keys still in use. */
export const verificationKeys = internalQuery({
  args: {},
  returns: v.array(vJwk),
  handler: async (ctx) =>
    (await loadVerificationKeys(ctx)).map((k) => ({
      kty: String(k.kty),
      crv: k.crv,
      x: k.x,
      y: k.y,
      kid: k.kid,
      alg: k.alg,
      use: k.use,
    })),
});

/**
 * Records `publicJwk` (a P-256 JWK; private parts are ignored) as retired.
 *
 * - `phase: "before"`, while it still signs: keeps it for the longest a
 *   token it may yet sign can live (365 days), so nothing breaks between
 *   this call and the env change.
 * - `phase: "after"` (default), once KEYHOLE_SIGNING_KEY is the new key:
 *   notAfter = the latest expiry of a PAT it signed (index by_key_expiry),
 *   and at least the longest agent session from now.
 */
export const retireKey = internalMutation({
  args: { publicJwk: v.string(), phase: v.optional(v.union(v.literal("before"), v.literal("after"))) },
  returns: v.object({ keyId: v.string(), notAfter: v.number(), latestTokenExpiry: v.union(v.number(), v.null()) }),
  handler: async (ctx, args) => {
    const jwk = parseP256(args.publicJwk);
    const keyId = await keyIdOf(jwk);
    const phase = args.phase ?? "after";
    const current = await currentSigningKey();
    if (phase === "after" && current.kid === keyId) {
      throw keyholeError(
        "conflict",
        `${keyId} is still KEYHOLE_SIGNING_KEY: set the new key first, then finish the retirement`,
      );
    }
    const now = Date.now();
    const latest = await ctx.db
      .query("apiTokens")
      .withIndex("by_key_expiry", (q) => q.eq("keyId", keyId))
      .order("desc")
      .first();
    const latestTokenExpiry = latest?.expiresAt ?? null;
    const notAfter =
      phase === "before"
        ? now + MAX_EXPIRES_IN_S * 1000 + AGENT_SESSION_MAX_TTL_MS + SLACK_MS
        : Math.max(latestTokenExpiry ?? 0, now + AGENT_SESSION_MAX_TTL_MS) + SLACK_MS;
    await upsertKey(ctx, keyId, JSON.stringify(publicPart(jwk, keyId)), notAfter, now);
    return { keyId, notAfter, latestTokenExpiry };
  },
});

/**
 * Publishes the public half of the NEXT signing key in the JWKS before it
 * signs anything, so verifiers that cache the JWKS (Cache-Control: 60 s) know
 * it by the time the first token it signs arrives. Kept like a retired key
 * (365 days + margin) until retireKey sets its real notAfter once it, in
 * turn, is replaced.
 */
export const publishKey = internalMutation({
  args: { publicJwk: v.string() },
  returns: v.object({ keyId: v.string(), notAfter: v.number() }),
  handler: async (ctx, args) => {
    const jwk = parseP256(args.publicJwk);
    const keyId = await keyIdOf(jwk);
    const now = Date.now();
    const notAfter = now + MAX_EXPIRES_IN_S * 1000 + AGENT_SESSION_MAX_TTL_MS + SLACK_MS;
    await upsertKey(ctx, keyId, JSON.stringify(publicPart(jwk, keyId)), notAfter, now);
    return { keyId, notAfter };
  },
});

/** Retired keys on record (for the rotation script and operators); `live` = still in the JWKS. */
export const listRetiredKeys = internalQuery({
  args: {},
  returns: v.array(
    v.object({
      keyId: v.string(),
      retiredAt: v.number(),
      notAfter: v.number(),
      live: v.boolean(),
      compromised: v.boolean(),
    }),
  ),
  handler: async (ctx) => {
    const now = Date.now();
    const rows = await ctx.db.query("retiredSigningKeys").order("desc").take(100);
    return rows.map((r) => ({
      keyId: r.keyId,
      retiredAt: r.retiredAt,
      notAfter: r.notAfter,
      live: r.notAfter > now && r.compromisedAt === undefined,
      compromised: r.compromisedAt !== undefined,
    }));
  },
});

const KEY_ID = /^kh-[A-Za-z0-9_-]{16}$/;

/**
 * Emergency retirement, for a key that may be compromised: it leaves the JWKS
 * and every token it signed (PATs, agent sessions) is refused from the next
 * request on; the first batch of its PATs is revoked (audited for their
 * owners) and its sessions ended here, the rest in scheduled batches. The
 * current KEYHOLE_SIGNING_KEY cannot be revoked: switch to a new key first
 * (`scripts/rotate-signing-key.ts --emergency` does both). Give the key as
 * its public JWK or its key id (`kh-…`, as in the JWKS and the token header).
 */
export const revokeKey = internalMutation({
  args: { publicJwk: v.optional(v.string()), keyId: v.optional(v.string()), reason: v.optional(v.string()) },
  returns: v.object({ keyId: v.string(), tokensRevoked: v.number(), sessionsEnded: v.number(), more: v.boolean() }),
  handler: async (ctx, args) => {
    if ((args.publicJwk === undefined) === (args.keyId === undefined)) {
      throw keyholeError("invalid_argument", "give the key as publicJwk or as keyId (one of them)");
    }
    const jwk = args.publicJwk === undefined ? null : parseP256(args.publicJwk);
    const keyId = jwk === null ? args.keyId! : await keyIdOf(jwk);
    if (!KEY_ID.test(keyId)) throw keyholeError("invalid_argument", 'keyId looks like "kh-" and 16 characters');
    if ((await currentSigningKey()).kid === keyId) {
      throw keyholeError(
        "conflict",
        `${keyId} is still KEYHOLE_SIGNING_KEY: set a new key first (scripts/rotate-signing-key.ts --emergency does both)`,
      );
    }
    const now = Date.now();
    const reason = (args.reason ?? "compromised").slice(0, 200);
    const existing = await retiredKeyRow(ctx, keyId);
    if (existing === null) {
      const publicJwk = jwk === null ? "" : JSON.stringify(publicPart(jwk, keyId));
      await ctx.db.insert("retiredSigningKeys", { keyId, publicJwk, retiredAt: now, notAfter: now, compromisedAt: now, compromiseReason: reason });
    } else if (existing.compromisedAt === undefined) {
      await ctx.db.patch("retiredSigningKeys", existing._id, { notAfter: now, compromisedAt: now, compromiseReason: reason });
    }
    const batch = await revokeBatchOfKey(ctx, { keyId, since: now, cursor: null }, (id) => endChildrenLater(ctx, id));
    if (batch.cursor !== null) {
      await ctx.scheduler.runAfter(0, internal.keys.revokeTokensOfKey, { keyId, since: now, cursor: batch.cursor });
    }
    return { keyId, tokensRevoked: batch.tokensRevoked, sessionsEnded: batch.sessionsEnded, more: batch.cursor !== null };
  },
});

/** The child sessions of a PAT revoked with its key end in their own batches. */
async function endChildrenLater(ctx: MutationCtx, tokenId: Id<"apiTokens">) {
  await ctx.scheduler.runAfter(0, internal.auth.endRevokedTokenSessions, { tokenId });
}

/** Continues an emergency retirement (keys:revokeKey) batch by batch. */
export const revokeTokensOfKey = internalMutation({
  args: { keyId: v.string(), since: v.number(), cursor: v.string() },
  returns: v.null(),
  handler: async (ctx, args) => {
    const batch = await revokeBatchOfKey(ctx, args, (id) => endChildrenLater(ctx, id));
    if (batch.cursor !== null) {
      await ctx.scheduler.runAfter(0, internal.keys.revokeTokensOfKey, { ...args, cursor: batch.cursor });
    }
    return null;
  },
});

/** Deletes retired keys whose last token has expired (they are no longer served anyway); compromised keys stay on record. */
export const pruneRetiredKeys = internalMutation({
  args: {},
  returns: v.number(),
  handler: async (ctx) => {
    const now = Date.now();
    const rows = await ctx.db.query("retiredSigningKeys").order("asc").take(100);
    let removed = 0;
    for (const r of rows) {
      if (r.notAfter <= now && r.compromisedAt === undefined) {
        await ctx.db.delete("retiredSigningKeys", r._id);
        removed++;
      }
    }
    return removed;
  },
});
