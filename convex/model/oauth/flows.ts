/**
 * The action halves of the OAuth flows: everything that talks to a provider.
 * Each reads and writes the database only through internal functions in
 * convex/oauth.ts (which see the caller's identity: ctx.runMutation from an
 * action propagates it).
 */
import type { ConvexError, Infer } from "convex/values";
import { internal } from "../../_generated/api";
import type { Id } from "../../_generated/dataModel";
import type { ActionCtx } from "../../_generated/server";
import { sha256Hex } from "../crypto";
import { requestInfo, type RequestInfo } from "../principal";
import { keyholeError, type ErrorCode, type KeyholeErrorData } from "../errors";
import {
  exchangeCode,
  fetchAccount,
  ProviderError,
  refreshAccessToken,
  revokeAtProvider,
  toKeyholeError,
  type TokenSet,
} from "./exchange";
import type { NewTokens, vCompleted, vVendedToken } from "./connections";
import { configuredProviders, PROVIDER_IDS, requireProvider, type ProviderConfig, type ProviderId } from "./providers";
import type { ConsumeMode } from "./state";

export const MAX_CODE_LENGTH = 2048;
export const MAX_STATE_LENGTH = 256;
const WAIT_STEP_MS = 250;
const WAIT_STEPS = 20;

function newTokens(t: TokenSet): NewTokens {
  return {
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    tokenType: t.tokenType,
    expiresIn: t.expiresIn,
    scopes: t.scopes,
  };
}

export function requireProviderId(provider: string): ProviderId {
  if ((PROVIDER_IDS as readonly string[]).includes(provider)) return provider as ProviderId;
  const names = configuredProviders().providers.map((p) => p.id);
  throw keyholeError(
    "invalid_argument",
    `OAuth provider "${provider.slice(0, 40)}" is not configured; configured: ${names.length ? names.join(", ") : "none"}`,
  );
}

export type CompleteOutcome =
  | { ok: true; result: Infer<typeof vCompleted> }
  | { ok: false; reason: string; error: ConvexError<KeyholeErrorData> };

const PROVIDER_REASONS: Record<ProviderError["kind"], string> = {
  denied: "access_denied",
  bad_grant: "code_rejected",
  unreachable: "provider_unreachable",
  malformed: "provider_malformed",
  provider_error: "provider_error",
};

/** A provider failure as a short, secret-free reason (for redirects and records) and a keyhole error. */
export function providerFailure(cfg: ProviderConfig, e: ProviderError): { reason: string; error: ConvexError<KeyholeErrorData> } {
  return { reason: PROVIDER_REASONS[e.kind], error: toKeyholeError(cfg, e) };
}

/** The code exchange and the account lookup: throws ProviderError. */
export async function exchangeAndFetch(
  cfg: ProviderConfig,
  grant: { code: string; redirectUri: string; verifier?: string },
): Promise<{ tokens: NewTokens; account: { accountId?: string; accountLogin?: string } }> {
  const tokens = await exchangeCode(cfg, grant);
  const account = await fetchAccount(cfg, tokens);
  return { tokens: newTokens(tokens), account };
}

/**
 * The browser callback route: consume the state (committed even if
 * everything after fails), exchange the code, read the account, store.
 * Failures come back with a short, secret-free `reason` (used in redirects).
 * (completeOAuth, the mutation, is model/oauth/complete.ts.)
 */
export async function tryComplete(
  ctx: ActionCtx,
  args: { provider: string; code: string; state: string; mode: ConsumeMode; info?: RequestInfo },
): Promise<CompleteOutcome> {
  let cfg: ProviderConfig;
  try {
    cfg = requireProvider(args.provider);
  } catch (e) {
    return { ok: false, reason: "unknown_provider", error: e as ConvexError<KeyholeErrorData> };
  }
  if (args.state.length === 0 || args.state.length > MAX_STATE_LENGTH) {
    return { ok: false, reason: "invalid_request", error: keyholeError("invalid_argument", "state is missing or malformed") };
  }
  const info = args.info ?? (await requestInfo(ctx));
  const consumed = await ctx.runMutation(internal.oauth.consumeState, {
    stateHash: await sha256Hex(args.state),
    provider: cfg.id,
    mode: args.mode,
    info,
  });
  if (!consumed.ok) {
    return { ok: false, reason: consumed.reason, error: keyholeError(consumed.code as ErrorCode, consumed.message) };
  }
  if (args.code.length === 0 || args.code.length > MAX_CODE_LENGTH) {
    return {
      ok: false,
      reason: "invalid_request",
      error: keyholeError("invalid_argument", "authorization code is missing or malformed"),
    };
  }
  let got: Awaited<ReturnType<typeof exchangeAndFetch>>;
  try {
    got = await exchangeAndFetch(cfg, { code: args.code, redirectUri: consumed.redirectUri, verifier: consumed.verifier });
  } catch (e) {
    if (e instanceof ProviderError) return { ok: false, ...providerFailure(cfg, e) };
    throw e;
  }
  const result = await ctx.runMutation(internal.oauth.storeConnection, {
    userId: consumed.userId,
    provider: cfg.id,
    ...got.account,
    requestedScopes: consumed.scopes,
    tokens: got.tokens,
    info,
  });
  return { ok: true, result };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * getConnectionToken: a fresh access token for the caller's connection.
 * Refreshes when within REFRESH_MARGIN_MS of expiry; the refresh token never
 * leaves the backend, and only the provider's own tokens are sent to it.
 */
export async function vend(ctx: ActionCtx, provider: string): Promise<Infer<typeof vVendedToken>> {
  const id = requireProviderId(provider);
  const info = await requestInfo(ctx);
  for (let i = 0; i <= WAIT_STEPS; i++) {
    const step = await ctx.runMutation(internal.oauth.beginVend, { provider: id, info });
    if (step.kind === "token") return step.token;
    if (step.kind === "wait") {
      await sleep(WAIT_STEP_MS);
      continue;
    }
    const cfg = requireProvider(id);
    let tokens: TokenSet;
    try {
      tokens = await refreshAccessToken(cfg, step.refreshToken);
    } catch (e) {
      const permanent = e instanceof ProviderError && (e.kind === "bad_grant" || e.kind === "denied");
      const reason = e instanceof ProviderError ? `${e.kind}${e.providerCode ? `:${e.providerCode}` : ""}` : "error";
      await ctx.runMutation(internal.oauth.failRefresh, {
        connectionId: step.connectionId,
        lockId: step.lockId,
        permanent,
        reason,
        actor: step.actor,
        info,
      });
      if (permanent) {
        throw keyholeError("expired", `${cfg.displayName} rejected the stored refresh token: reconnect ${id}`);
      }
      if (e instanceof ProviderError) throw toKeyholeError(cfg, e, "refresh token");
      throw e;
    }
    return await ctx.runMutation(internal.oauth.finishRefresh, {
      connectionId: step.connectionId,
      lockId: step.lockId,
      tokens: newTokens(tokens),
      actor: step.actor,
      info,
    });
  }
  throw keyholeError("conflict", `the ${id} token is being refreshed by another caller: try again shortly`);
}

/** revokeOAuth: delete locally (committed first), then tell the provider, best effort. */
export async function revoke(
  ctx: ActionCtx,
  provider: string,
): Promise<{ revoked: boolean; connectionId: Id<"oauthConnections"> | null; providerRevoked: boolean | null }> {
  const id = requireProviderId(provider);
  const taken = await ctx.runMutation(internal.oauth.takeForRevoke, { provider: id, info: await requestInfo(ctx) });
  if (taken === null) return { revoked: false, connectionId: null, providerRevoked: null };
  let cfg: ProviderConfig | null = null;
  try {
    cfg = requireProvider(id);
  } catch {
    cfg = null; // provider no longer configured: local deletion is all we can do
  }
  if (cfg === null) return { revoked: true, connectionId: taken.connectionId, providerRevoked: null };
  const outcome = await revokeAtProvider(cfg, { accessToken: taken.accessToken, refreshToken: taken.refreshToken });
  if (!outcome.attempted) return { revoked: true, connectionId: taken.connectionId, providerRevoked: null };
  if (!outcome.ok) {
    // Never the tokens or the URL's query: the provider name and status only.
    console.warn(`oauth: revocation at ${id} failed (${outcome.detail ?? "unknown"}); local tokens were deleted`);
  }
  return { revoked: true, connectionId: taken.connectionId, providerRevoked: outcome.ok };
}
