/**
 * The authorization request: initiate (mutation) and consume (internal
 * mutation, called by completeOAuth and by the browser callback route).
 *
 * A state is 256 random bits, handed out once and stored only as its SHA-256,
 * bound to the user who initiated it and the provider, valid 10 minutes,
 * single-use: the first attempt to use it consumes it whatever the outcome.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx } from "../../_generated/server";
import { actorOf, logAudit, type AuditActor } from "../audit";
import { constantTimeEqual, randomToken, sha256Hex } from "../crypto";
import type { ErrorCode } from "../errors";
import { getPrincipal, type Principal, type RequestInfo } from "../principal";
import { enforce } from "../rateLimit";
import { aadFor, decryptSecret, encryptSecret } from "./encryption";
import { newVerifier, s256Challenge } from "./pkce";
import {
  callbackUrl,
  normalizeRequestedScopes,
  requireAllowedRedirect,
  requireProvider,
  type ProviderConfig,
  type ProviderId,
} from "./providers";
import { siteUrl } from "../keys";
import type { UserMutationCtx } from "../functions";

export const STATE_TTL_MS = 10 * 60_000;
const INITIATE_LIMIT = { max: 30, windowMs: 60_000 };
const CLEANUP_BATCH = 20;

/** Where the browser goes: the provider's authorize endpoint with our parameters. */
export function authorizeUrl(
  cfg: ProviderConfig,
  p: { state: string; redirectUri: string; scopes: string[]; challenge?: string },
): string {
  const url = new URL(cfg.authorizeUrl);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", cfg.clientId);
  url.searchParams.set("redirect_uri", p.redirectUri);
  if (p.scopes.length > 0) url.searchParams.set(cfg.scopeParam, p.scopes.join(cfg.scopeDelimiter));
  url.searchParams.set("state", p.state);
  if (p.challenge !== undefined) {
    url.searchParams.set("code_challenge", p.challenge);
    url.searchParams.set("code_challenge_method", "S256");
  }
  return url.toString();
}

/** Our browser-start route: binds the browser, then redirects to the provider (see model/http/oauth.ts). */
export function startUrl(provider: ProviderId, state: string): string {
  return `${siteUrl()}/oauth/start/${provider}?state=${encodeURIComponent(state)}`;
}

export async function initiate(
  ctx: UserMutationCtx,
  args: { provider: string; scopes: string[]; redirectUri: string },
): Promise<{ authUrl: string; state: string }> {
  const user = ctx.user;
  const cfg = requireProvider(args.provider);
  requireAllowedRedirect(cfg.id, args.redirectUri);
  const scopes = normalizeRequestedScopes(cfg, args.scopes);
  await enforce(ctx, `oauth-initiate:${user.userId}`, INITIATE_LIMIT, "OAuth connection attempts");
  await deleteExpiredStates(ctx);

  const now = Date.now();
  const state = randomToken(32);
  const stateId = await ctx.db.insert("oauthStates", {
    stateHash: await sha256Hex(state),
    userId: user.userId,
    provider: cfg.id,
    redirectUri: args.redirectUri,
    scopes,
    createdAt: now,
    expiresAt: now + STATE_TTL_MS,
  });
  let challenge: string | undefined;
  if (cfg.pkce) {
    const verifier = newVerifier();
    challenge = await s256Challenge(verifier);
    await ctx.db.patch("oauthStates", stateId, { verifier: await encryptSecret(verifier, verifierAad(stateId)) });
  }
  // Flows that come back to our own callback route start at our start route,
  // which ties the state to this browser (a cookie) before going on.
  const authUrl =
    args.redirectUri === callbackUrl(cfg.id)
      ? startUrl(cfg.id, state)
      : authorizeUrl(cfg, { state, redirectUri: args.redirectUri, scopes, challenge });
  return { authUrl, state };
}

function verifierAad(stateId: Id<"oauthStates">): string {
  return aadFor("oauthStates", stateId, "verifier");
}

/** Drops a few expired states (bounded), so the table does not grow. */
async function deleteExpiredStates(ctx: MutationCtx): Promise<void> {
  const old = await ctx.db
    .query("oauthStates")
    .withIndex("by_expires", (q) => q.lt("expiresAt", Date.now()))
    .take(CLEANUP_BATCH);
  for (const row of old) await ctx.db.delete("oauthStates", row._id);
}

async function stateByHash(ctx: MutationCtx, stateHash: string): Promise<Doc<"oauthStates"> | null> {
  return await ctx.db
    .query("oauthStates")
    .withIndex("by_hash", (q) => q.eq("stateHash", stateHash))
    .unique();
}

export const vConsumeMode = v.union(
  v.object({ kind: v.literal("user") }),
  v.object({ kind: v.literal("browser"), bindingHash: v.string() }),
);
export type ConsumeMode = Infer<typeof vConsumeMode>;

export const vConsumeResult = v.union(
  v.object({
    ok: v.literal(true),
    stateId: v.id("oauthStates"),
    userId: v.id("users"),
    redirectUri: v.string(),
    scopes: v.array(v.string()),
    verifier: v.optional(v.string()),
  }),
  v.object({ ok: v.literal(false), code: v.string(), reason: v.string(), message: v.string() }),
);
export type ConsumeResult = Infer<typeof vConsumeResult>;

function reject(code: ErrorCode, reason: string, message: string): ConsumeResult {
  return { ok: false, code, reason, message };
}

/**
 * Checks and consumes a state. Never throws for a bad state: it returns the
 * rejection, so the consumption commits and the caller throws afterwards.
 * `user` mode: the caller must be the signed-in person who initiated it.
 * `browser` mode (callback route): the browser must carry the binding cookie
 * set by our start route.
 */
export async function consumeState(
  ctx: MutationCtx,
  args: { stateHash: string; provider: string; mode: ConsumeMode; info?: RequestInfo },
): Promise<ConsumeResult> {
  const row = await stateByHash(ctx, args.stateHash);
  if (row === null) return reject("invalid_argument", "unknown_state", "unknown or expired OAuth state: start the connection again");

  const now = Date.now();
  const firstUse = row.usedAt === undefined;
  let verifier: string | undefined;
  if (firstUse && row.verifier !== undefined) {
    try {
      verifier = await decryptSecret(row.verifier, verifierAad(row._id));
    } catch {
      verifier = undefined; // reported below as unusable
    }
  }
  await ctx.db.patch("oauthStates", row._id, { usedAt: row.usedAt ?? now, verifier: undefined });

  let caller: Principal | null = null;
  let actor: AuditActor = { kind: "anonymous" };
  if (args.mode.kind === "user") {
    try {
      caller = await getPrincipal(ctx);
    } catch {
      caller = null;
    }
    actor = actorOf(caller);
  }

  let rejection: ConsumeResult | null = null;
  if (!firstUse) {
    rejection = reject("invalid_argument", "replayed", "this OAuth state was already used: start the connection again");
  } else if (row.expiresAt <= now) {
    rejection = reject("expired", "expired", "this OAuth state has expired: start the connection again");
  } else if (row.provider !== args.provider) {
    rejection = reject("invalid_argument", "wrong_provider", `this OAuth state was issued for ${row.provider}, not ${args.provider}`);
  } else if (args.mode.kind === "user" && (caller === null || caller.kind !== "user" || caller.userId !== row.userId)) {
    rejection = reject("forbidden", "wrong_user", "this OAuth state was issued to another sign-in");
  } else if (
    args.mode.kind === "browser" &&
    (row.bindingHash === undefined || !constantTimeEqual(row.bindingHash, args.mode.bindingHash))
  ) {
    rejection = reject("forbidden", "not_bound", "this browser did not start this connection: start it again from the dashboard");
  } else if (row.verifier !== undefined && verifier === undefined) {
    rejection = reject("conflict", "unreadable", "this OAuth state could not be read (encryption key changed?): start again");
  }

  if (rejection !== null) {
    if (rejection.ok === false && rejection.reason !== "replayed") {
      await logAudit(ctx, {
        userId: row.userId,
        action: "connection.state_rejected",
        actor,
        ...args.info,
        targetType: "oauthProvider",
        targetId: row.provider,
        details: `reason=${rejection.reason} provider=${args.provider.slice(0, 20)}`,
      });
    }
    return rejection;
  }
  return { ok: true, stateId: row._id, userId: row.userId, redirectUri: row.redirectUri, scopes: row.scopes, verifier };
}

export const vBindResult = v.union(
  v.object({ ok: v.literal(true), authUrl: v.string() }),
  v.object({ ok: v.literal(false), reason: v.string() }),
);

/**
 * Start route: ties an unused, unexpired state for our callback to the
 * browser holding `bindingHash`'s cookie (once), and returns the provider URL.
 */
export async function bindBrowser(
  ctx: MutationCtx,
  args: { state: string; provider: string; bindingHash: string },
): Promise<Infer<typeof vBindResult>> {
  const row = await stateByHash(ctx, await sha256Hex(args.state));
  const now = Date.now();
  if (row === null || row.usedAt !== undefined) return { ok: false, reason: "unknown_state" };
  if (row.expiresAt <= now) return { ok: false, reason: "expired" };
  if (row.provider !== args.provider) return { ok: false, reason: "wrong_provider" };
  if (row.bindingHash !== undefined) return { ok: false, reason: "already_started" };
  const cfg = requireProvider(row.provider);
  if (row.redirectUri !== callbackUrl(cfg.id)) return { ok: false, reason: "not_callback" };
  let challenge: string | undefined;
  if (row.verifier !== undefined) {
    try {
      challenge = await s256Challenge(await decryptSecret(row.verifier, verifierAad(row._id)));
    } catch {
      return { ok: false, reason: "unreadable" };
    }
  } else if (cfg.pkce) {
    return { ok: false, reason: "unreadable" };
  }
  await ctx.db.patch("oauthStates", row._id, { bindingHash: args.bindingHash });
  return {
    ok: true,
    authUrl: authorizeUrl(cfg, { state: args.state, redirectUri: row.redirectUri, scopes: row.scopes, challenge }),
  };
}
