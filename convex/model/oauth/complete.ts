/**
 * completeOAuth, the Convex way: a mutation (the seed's call shape,
 * `client.mutation(api.auth.completeOAuth, {provider, code, state})`) cannot
 * call the provider, so the work is split:
 *
 *   1. completeOAuth (mutation, beginComplete): the signed-in person who
 *      initiated the flow presents the state; it is checked and consumed
 *      exactly as before (same person, same provider, unexpired, unused:
 *      state.consumeState), the connection record is created or marked
 *      `pending`, the code and PKCE verifier are left on the state row
 *      AES-256-GCM encrypted (never in the scheduler's arguments), and the
 *      exchange is scheduled. It returns `{connectionId, provider, scopes,
 *      expiresAt}` at once: `scopes` as requested, `expiresAt` null until the
 *      provider has answered.
 *   2. oauth:completeExchange (internal action, runExchange): takes the code
 *      and verifier off the state row (once), exchanges the code, reads the
 *      account, stores the tokens encrypted (status `active`), or records the
 *      failure on the connection (`attempt.status: "failed"`, with the same
 *      `{code, message}` the action used to throw; no token stored).
 *
 * The record shows the outcome live: `listOAuthConnections` (a query, so a
 * subscription updates when the exchange finishes). A refused state throws,
 * and a mutation that throws writes nothing: the state stays unused and its
 * owner's. (The browser callback route, an HTTP action, still burns a state
 * on any failure and audits the rejection: model/http/oauth.ts.)
 */
import { v } from "convex/values";
import { internal } from "../../_generated/api";
import type { Doc, Id } from "../../_generated/dataModel";
import type { ActionCtx, MutationCtx } from "../../_generated/server";
import { logAudit } from "../audit";
import { sha256Hex } from "../crypto";
import { keyholeError, type ErrorCode } from "../errors";
import { requestInfo, type RequestInfo } from "../principal";
import { storeConnection, type Exchanged } from "./connections";
import { aadFor, decryptSecret, encryptSecret } from "./encryption";
import { ProviderError } from "./exchange";
import { exchangeAndFetch, MAX_CODE_LENGTH, MAX_STATE_LENGTH, providerFailure } from "./flows";
import { requireProvider, type ProviderConfig, type ProviderId } from "./providers";
import { consumeState } from "./state";
import type { UserMutationCtx } from "../functions";

export type Completed = { connectionId: Id<"oauthConnections">; provider: string; scopes: string[]; expiresAt: number | null };

const exchangeAad = (stateId: Id<"oauthStates">) => aadFor("oauthStates", stateId, "exchange");

/** The mutation half: check and consume the state, record a pending connection, schedule the exchange. */
export async function beginComplete(
  ctx: UserMutationCtx,
  args: { provider: string; code: string; state: string },
): Promise<Completed> {
  const cfg = requireProvider(args.provider);
  if (args.state.length === 0 || args.state.length > MAX_STATE_LENGTH) {
    throw keyholeError("invalid_argument", "state is missing or malformed");
  }
  if (args.code.length === 0 || args.code.length > MAX_CODE_LENGTH) {
    throw keyholeError("invalid_argument", "authorization code is missing or malformed");
  }
  const info = await requestInfo(ctx);
  const consumed = await consumeState(ctx, {
    stateHash: await sha256Hex(args.state),
    provider: cfg.id,
    mode: { kind: "user" },
    info,
  });
  // Throwing rolls the whole mutation back: nothing consumed, nothing recorded.
  if (!consumed.ok) throw keyholeError(consumed.code as ErrorCode, consumed.message);
  const connectionId = await markPending(ctx, consumed.userId, cfg.id, consumed.scopes);
  const secret = JSON.stringify({ code: args.code, verifier: consumed.verifier });
  await ctx.db.patch("oauthStates", consumed.stateId, {
    connectionId,
    exchange: await encryptSecret(secret, exchangeAad(consumed.stateId)),
  });
  await ctx.scheduler.runAfter(0, internal.oauth.completeExchange, { stateId: consumed.stateId, info });
  return { connectionId, provider: cfg.id, scopes: consumed.scopes, expiresAt: null };
}

/** The user's connection record for `provider`, created without tokens or marked as reconnecting. */
async function markPending(
  ctx: MutationCtx,
  userId: Id<"users">,
  provider: ProviderId,
  scopes: string[],
): Promise<Id<"oauthConnections">> {
  const now = Date.now();
  const attempt = { status: "pending" as const, at: now };
  const existing = await ctx.db
    .query("oauthConnections")
    .withIndex("by_user_provider", (q) => q.eq("userId", userId).eq("provider", provider))
    .unique();
  if (existing !== null) {
    // A live connection keeps working while it is being replaced.
    await ctx.db.patch("oauthConnections", existing._id, { attempt, updatedAt: now });
    return existing._id;
  }
  return await ctx.db.insert("oauthConnections", {
    userId,
    provider,
    scopes,
    keyId: "",
    accessToken: "",
    createdAt: now,
    updatedAt: now,
    attempt,
  });
}

export const vClaim = v.union(
  v.null(),
  v.object({
    userId: v.id("users"),
    provider: v.string(),
    connectionId: v.id("oauthConnections"),
    redirectUri: v.string(),
    scopes: v.array(v.string()),
    code: v.string(),
    verifier: v.optional(v.string()),
  }),
);

/** Takes the code and verifier off a consumed state, once. Null: already taken (or never left). */
export async function claimExchange(ctx: MutationCtx, stateId: Id<"oauthStates">) {
  const row: Doc<"oauthStates"> | null = await ctx.db.get("oauthStates", stateId);
  if (row === null || row.exchange === undefined || row.connectionId === undefined) return null;
  await ctx.db.patch("oauthStates", row._id, { exchange: undefined });
  let grant: { code: string; verifier?: string };
  try {
    grant = JSON.parse(await decryptSecret(row.exchange, exchangeAad(row._id))) as typeof grant;
  } catch {
    await failExchange(ctx, row.connectionId, {
      code: "conflict",
      reason: "unreadable",
      message: "the pending authorization could not be read (encryption key changed?): start the connection again",
    });
    return null;
  }
  const { userId, provider, redirectUri, scopes, connectionId } = row;
  return { userId, provider, connectionId, redirectUri, scopes, code: grant.code, verifier: grant.verifier };
}

/** Records a failed exchange on the connection (no token stored) and audits it for the owner. */
export async function failExchange(
  ctx: MutationCtx,
  connectionId: Id<"oauthConnections">,
  error: { code: ErrorCode; reason: string; message: string },
  info?: RequestInfo,
): Promise<void> {
  const row = await ctx.db.get("oauthConnections", connectionId);
  if (row === null) return; // disconnected meanwhile
  await ctx.db.patch("oauthConnections", row._id, { attempt: { status: "failed", at: Date.now(), error } });
  await logAudit(ctx, {
    userId: row.userId,
    action: "connection.failed",
    actor: { kind: "user", id: row.userId },
    ...info,
    targetType: "oauthConnection",
    targetId: row._id,
    details: `provider=${row.provider} reason=${error.reason}`,
  });
}

/** Stores the exchanged tokens unless the person disconnected while the exchange ran. */
export async function finishExchange(
  ctx: MutationCtx,
  args: Exchanged & { connectionId: Id<"oauthConnections"> },
): Promise<boolean> {
  const row = await ctx.db.get("oauthConnections", args.connectionId);
  if (row === null || row.attempt?.status !== "pending") return false;
  const { connectionId: _id, ...rest } = args;
  await storeConnection(ctx, { ...rest, actor: { kind: "user", id: args.userId } });
  return true;
}

/** The action half, scheduled by beginComplete. Never throws for a provider failure: it is recorded. */
export async function runExchange(ctx: ActionCtx, stateId: Id<"oauthStates">, info?: RequestInfo): Promise<void> {
  const claim = await ctx.runMutation(internal.oauth.claimExchange, { stateId });
  if (claim === null) return;
  const fail = async (error: { code: ErrorCode; reason: string; message: string }): Promise<void> => {
    await ctx.runMutation(internal.oauth.failExchange, { connectionId: claim.connectionId, error, info });
  };
  let cfg: ProviderConfig;
  try {
    cfg = requireProvider(claim.provider);
  } catch {
    return await fail({ code: "invalid_argument", reason: "unknown_provider", message: `${claim.provider} is no longer configured` });
  }
  let got: Awaited<ReturnType<typeof exchangeAndFetch>>;
  try {
    got = await exchangeAndFetch(cfg, { code: claim.code, redirectUri: claim.redirectUri, verifier: claim.verifier });
  } catch (e) {
    if (!(e instanceof ProviderError)) {
      await fail({ code: "conflict", reason: "server_error", message: "the connection could not be completed: try again" });
      throw e;
    }
    const { reason, error } = providerFailure(cfg, e);
    return await fail({ code: error.data.code, reason, message: error.data.message });
  }
  await ctx.runMutation(internal.oauth.finishExchange, {
    connectionId: claim.connectionId,
    userId: claim.userId,
    provider: cfg.id,
    ...got.account,
    requestedScopes: claim.scopes,
    tokens: got.tokens,
    info,
  });
}
