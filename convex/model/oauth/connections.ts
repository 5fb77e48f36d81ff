/**
 * Stored OAuth connections: one row per (user, provider), tokens encrypted
 * with AES-256-GCM under the row id (encryption.ts). List results never carry
 * a secret; tokens leave only through getConnectionToken (audited) and only
 * as a fresh access token, never the refresh token.
 */
import { v, type Infer, type ObjectType } from "convex/values";
import type { Doc, Id } from "../../_generated/dataModel";
import { internal } from "../../_generated/api";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { actorOf, logAudit, type AuditActor } from "../audit";
import { randomToken } from "../crypto";
import { keyholeError } from "../errors";
import type { RequestInfo } from "../principal";
import { hasTokens } from "./listing";
import { aadFor, DecryptionError, decryptSecret, encryptionKeys, encryptSecret, type EncryptionKeys } from "./encryption";
import { PROVIDER_IDS, type ProviderId } from "./providers";
import type { PrincipalMutationCtx, UserMutationCtx } from "../functions";

/** Refresh when the access token has less than this left. */
export const REFRESH_MARGIN_MS = 2 * 60_000;
/** How long one caller may hold the refresh lock. */
export const REFRESH_LOCK_MS = 30_000;

export const vProvider = v.union(...PROVIDER_IDS.map((p) => v.literal(p)));

export const vActor = v.object({
  kind: v.union(v.literal("user"), v.literal("pat"), v.literal("agent"), v.literal("anonymous"), v.literal("system")),
  id: v.optional(v.string()),
});

export const vCompleted = v.object({
  connectionId: v.id("oauthConnections"),
  provider: v.string(),
  scopes: v.array(v.string()),
  expiresAt: v.union(v.number(), v.null()),
});

export const vVendedToken = v.object({
  accessToken: v.string(),
  expiresAt: v.union(v.number(), v.null()),
  scopes: v.array(v.string()),
});

export const vRequestInfo = v.object({ ip: v.optional(v.string()), userAgent: v.optional(v.string()) });

export const vNewTokens = v.object({
  accessToken: v.string(),
  refreshToken: v.optional(v.string()),
  tokenType: v.optional(v.string()),
  expiresIn: v.optional(v.number()),
  scopes: v.union(v.array(v.string()), v.null()),
});
export type NewTokens = Infer<typeof vNewTokens>;

/** What a successful code exchange yields for the person's connection (completeOAuth's exchange, the callback). */
export const vExchanged = {
  userId: v.id("users"),
  provider: vProvider,
  accountId: v.optional(v.string()),
  accountLogin: v.optional(v.string()),
  requestedScopes: v.array(v.string()),
  tokens: vNewTokens,
  info: v.optional(vRequestInfo),
};
export type Exchanged = ObjectType<typeof vExchanged>;

const accessAad = (id: Id<"oauthConnections">) => aadFor("oauthConnections", id, "accessToken");
const refreshAad = (id: Id<"oauthConnections">) => aadFor("oauthConnections", id, "refreshToken");

function expiresAtOf(expiresIn: number | undefined, now: number): number | undefined {
  return expiresIn === undefined || expiresIn <= 0 ? undefined : now + Math.floor(expiresIn * 1000);
}

async function connectionOf(
  ctx: QueryCtx | MutationCtx,
  userId: Id<"users">,
  provider: string,
): Promise<Doc<"oauthConnections"> | null> {
  return await ctx.db
    .query("oauthConnections")
    .withIndex("by_user_provider", (q) => q.eq("userId", userId).eq("provider", provider))
    .unique();
}

/** Encrypts both tokens of a row under the current key, with the row id as associated data. */
async function sealed(
  id: Id<"oauthConnections">,
  tokens: { accessToken: string; refreshToken?: string },
  keys?: EncryptionKeys,
): Promise<{ keyId: string; accessToken: string; refreshToken: string | undefined }> {
  const k = keys ?? (await encryptionKeys());
  return {
    keyId: k.currentId,
    accessToken: await encryptSecret(tokens.accessToken, accessAad(id), k),
    refreshToken: tokens.refreshToken === undefined ? undefined : await encryptSecret(tokens.refreshToken, refreshAad(id), k),
  };
}

/** Decrypts a row's tokens; a failure is a clear, secret-free error. */
async function opened(row: Doc<"oauthConnections">): Promise<{ accessToken: string; refreshToken?: string }> {
  try {
    return {
      accessToken: await decryptSecret(row.accessToken, accessAad(row._id)),
      refreshToken: row.refreshToken === undefined ? undefined : await decryptSecret(row.refreshToken, refreshAad(row._id)),
    };
  } catch (e) {
    if (e instanceof DecryptionError) {
      console.error(`oauth: connection ${row._id} (${row.provider}) could not be decrypted: ${e.message}`);
      throw keyholeError(
        "conflict",
        `the stored ${row.provider} credentials could not be decrypted (${e.message}): reconnect ${row.provider}`,
      );
    }
    throw e;
  }
}

/** Stores (or replaces) the user's connection to a provider after a successful exchange. */
export async function storeConnection(
  ctx: MutationCtx,
  args: Exchanged & { actor: AuditActor },
): Promise<Infer<typeof vCompleted>> {
  const now = Date.now();
  const scopes = args.tokens.scopes ?? args.requestedScopes;
  const expiresAt = expiresAtOf(args.tokens.expiresIn, now);
  const fields = {
    accountId: args.accountId,
    accountLogin: args.accountLogin,
    scopes,
    tokenType: args.tokens.tokenType,
    expiresAt,
    updatedAt: now,
    lastRefreshedAt: undefined,
    refreshLockId: undefined,
    refreshLockUntil: undefined,
    needsReconnect: undefined,
    attempt: undefined,
  };
  const existing = await connectionOf(ctx, args.userId, args.provider);
  let id: Id<"oauthConnections">;
  if (existing !== null) {
    id = existing._id;
    await ctx.db.patch("oauthConnections", id, { ...fields, ...(await sealed(id, args.tokens)) });
  } else {
    // The ciphertexts are bound to the row id, so the row exists first (same transaction).
    id = await ctx.db.insert("oauthConnections", {
      userId: args.userId,
      provider: args.provider,
      ...fields,
      keyId: "",
      accessToken: "",
      createdAt: now,
    });
    await ctx.db.patch("oauthConnections", id, await sealed(id, args.tokens));
  }
  await logAudit(ctx, {
    userId: args.userId,
    action: "connection.connected",
    actor: args.actor,
    ...args.info,
    targetType: "oauthConnection",
    targetId: id,
    details: `provider=${args.provider}${args.accountLogin ? ` account=${args.accountLogin.slice(0, 64)}` : ""}${existing ? " replaced=true" : ""}`,
  });
  return { connectionId: id, provider: args.provider, scopes, expiresAt: expiresAt ?? null };
}

// --- vending -------------------------------------------------------------------

export const vVendStep = v.union(
  v.object({ kind: v.literal("token"), token: vVendedToken }),
  v.object({
    kind: v.literal("refresh"),
    connectionId: v.id("oauthConnections"),
    lockId: v.string(),
    refreshToken: v.string(),
    actor: vActor,
  }),
  v.object({ kind: v.literal("wait") }),
);
export type VendStep = Infer<typeof vVendStep>;

async function auditVend(
  ctx: MutationCtx,
  row: Doc<"oauthConnections">,
  actor: AuditActor,
  refreshed: boolean,
  info: RequestInfo | undefined,
) {
  await logAudit(ctx, {
    userId: row.userId,
    action: "connection.token_vended",
    actor,
    ...info,
    targetType: "oauthConnection",
    targetId: row._id,
    details: `provider=${row.provider}${refreshed ? " refreshed=true" : ""}`,
  });
}

/**
 * First step of getConnectionToken. Needs `connections:use` (a person passes;
 * a token's scopes must include it). Returns the current access token when it
 * has more than REFRESH_MARGIN_MS left (audited as vended), else takes the
 * refresh lock and hands the action the refresh token to use.
 */
export async function beginVend(ctx: PrincipalMutationCtx, provider: ProviderId, info?: RequestInfo): Promise<VendStep> {
  const p = ctx.principal;
  const row = await connectionOf(ctx, p.userId, provider);
  if (row === null) throw keyholeError("not_found", `no ${provider} connection: connect ${provider} first`);
  if (!hasTokens(row)) {
    throw keyholeError(
      "not_found",
      `no ${provider} connection yet (${row.attempt?.status ?? "pending"}): ${row.attempt?.status === "failed" ? `connect ${provider} again` : "wait for it to finish"}`,
    );
  }
  if (row.needsReconnect) {
    throw keyholeError("expired", `the ${provider} connection was rejected by ${provider} on refresh: reconnect ${provider}`);
  }
  const now = Date.now();
  const actor = actorOf(p);
  const fresh = row.expiresAt === undefined || row.expiresAt - now > REFRESH_MARGIN_MS;
  const stillValid = row.expiresAt === undefined || row.expiresAt > now;

  const vend = async (): Promise<VendStep> => {
    const tokens = await opened(row);
    const keys = await encryptionKeys();
    if (row.keyId !== keys.currentId) {
      // Written under a key that has since been rotated out of first place:
      // re-encrypt this row now and sweep the others in the background.
      await ctx.db.patch("oauthConnections", row._id, await sealed(row._id, tokens, keys));
      await ctx.scheduler.runAfter(0, internal.oauth.reencryptConnections, {});
    }
    const { accessToken } = tokens;
    await ctx.db.patch("oauthConnections", row._id, { lastUsedAt: now });
    await auditVend(ctx, row, actor, false, info);
    return { kind: "token", token: { accessToken, expiresAt: row.expiresAt ?? null, scopes: row.scopes } };
  };

  if (fresh) return await vend();
  if (row.refreshToken === undefined) {
    if (stillValid) return await vend();
    throw keyholeError("expired", `the ${provider} access token has expired and cannot be refreshed: reconnect ${provider}`);
  }
  if (row.refreshLockUntil !== undefined && row.refreshLockUntil > now) {
    // Someone else is refreshing: the current token is fine if it still works.
    return stillValid ? await vend() : { kind: "wait" };
  }
  const { refreshToken } = await opened(row);
  const lockId = randomToken(16);
  await ctx.db.patch("oauthConnections", row._id, { refreshLockId: lockId, refreshLockUntil: now + REFRESH_LOCK_MS });
  return { kind: "refresh", connectionId: row._id, lockId, refreshToken: refreshToken!, actor };
}

/**
 * Writes refreshed tokens back (a rotated refresh token replaces the old one;
 * without one the old refresh token stays, re-encrypted) and audits the vend.
 */
export async function finishRefresh(
  ctx: MutationCtx,
  args: { connectionId: Id<"oauthConnections">; lockId: string; tokens: NewTokens; actor: AuditActor; info?: RequestInfo },
): Promise<Infer<typeof vVendedToken>> {
  const row = await ctx.db.get("oauthConnections", args.connectionId);
  if (row === null) throw keyholeError("revoked", "this connection was revoked while its token was being refreshed");
  const now = Date.now();
  const old = await opened(row);
  const refreshToken = args.tokens.refreshToken ?? old.refreshToken;
  const expiresAt = expiresAtOf(args.tokens.expiresIn, now);
  const scopes = args.tokens.scopes ?? row.scopes;
  await ctx.db.patch("oauthConnections", row._id, {
    ...(await sealed(row._id, { accessToken: args.tokens.accessToken, refreshToken })),
    tokenType: args.tokens.tokenType ?? row.tokenType,
    scopes,
    expiresAt,
    updatedAt: now,
    lastUsedAt: now,
    lastRefreshedAt: now,
    refreshLockId: undefined,
    refreshLockUntil: undefined,
  });
  await logAudit(ctx, {
    userId: row.userId,
    action: "connection.token_refreshed",
    actor: args.actor,
    ...args.info,
    targetType: "oauthConnection",
    targetId: row._id,
    details: `provider=${row.provider} rotated=${args.tokens.refreshToken !== undefined}`,
  });
  await auditVend(ctx, row, args.actor, true, args.info);
  return { accessToken: args.tokens.accessToken, expiresAt: expiresAt ?? null, scopes };
}

/** Releases the refresh lock after a failed refresh; `permanent` marks the connection for reconnection. */
export async function failRefresh(
  ctx: MutationCtx,
  args: {
    connectionId: Id<"oauthConnections">;
    lockId: string;
    permanent: boolean;
    reason: string;
    actor: AuditActor;
    info?: RequestInfo;
  },
): Promise<void> {
  const row = await ctx.db.get("oauthConnections", args.connectionId);
  if (row === null) return;
  if (row.refreshLockId === args.lockId) {
    await ctx.db.patch("oauthConnections", row._id, {
      refreshLockId: undefined,
      refreshLockUntil: undefined,
      ...(args.permanent ? { needsReconnect: true } : {}),
    });
  }
  await logAudit(ctx, {
    userId: row.userId,
    action: "connection.refresh_failed",
    actor: args.actor,
    ...args.info,
    targetType: "oauthConnection",
    targetId: row._id,
    details: `provider=${row.provider} reason=${args.reason.slice(0, 100)}`,
  });
}

// --- revocation ------------------------------------------------------------------

export const vTakenForRevoke = v.union(
  v.null(),
  v.object({
    connectionId: v.id("oauthConnections"),
    accessToken: v.optional(v.string()),
    refreshToken: v.optional(v.string()),
  }),
);

/**
 * Deletes the signed-in person's connection (tokens included) and audits it;
 * returns the decrypted tokens so the action can revoke them at the provider.
 * No connection → null (revoking twice is a no-op).
 */
export async function takeForRevoke(
  ctx: UserMutationCtx,
  provider: ProviderId,
  info?: RequestInfo,
): Promise<Infer<typeof vTakenForRevoke>> {
  const user = ctx.user;
  const row = await connectionOf(ctx, user.userId, provider);
  if (row === null) return null;
  let tokens: { accessToken?: string; refreshToken?: string } = {};
  try {
    if (hasTokens(row)) tokens = await opened(row);
  } catch {
    tokens = {}; // unreadable tokens are still deleted; nothing to send the provider
  }
  await ctx.db.delete("oauthConnections", row._id);
  await logAudit(ctx, {
    userId: user.userId,
    action: "connection.revoked",
    actor: actorOf(user),
    ...info,
    targetType: "oauthConnection",
    targetId: row._id,
    details: `provider=${provider}`,
  });
  return { connectionId: row._id, ...tokens };
}

// --- key rotation ----------------------------------------------------------------

export const REENCRYPT_BATCH = 50;

/**
 * Re-encrypts up to `batch` connections that are still under a non-current
 * key (one that is still configured) with the current key. Rows whose
 * ciphertext no longer authenticates are marked for reconnection and moved
 * out of the way (keyId "unreadable:<old>"). Returns whether more remain.
 */
export async function reencryptBatch(
  ctx: MutationCtx,
  batch = REENCRYPT_BATCH,
): Promise<{ reencrypted: number; unreadable: number; more: boolean }> {
  const keys = await encryptionKeys();
  let reencrypted = 0;
  let unreadable = 0;
  let budget = Math.max(1, Math.min(batch, 500));
  let more = false;
  for (const keyId of keys.keys.keys()) {
    if (keyId === keys.currentId) continue;
    const rows = await ctx.db
      .query("oauthConnections")
      .withIndex("by_key", (q) => q.eq("keyId", keyId))
      .take(budget + 1);
    if (rows.length > budget) more = true;
    for (const row of rows.slice(0, budget)) {
      try {
        const tokens = await opened(row);
        await ctx.db.patch("oauthConnections", row._id, await sealed(row._id, tokens, keys));
        reencrypted++;
      } catch {
        await ctx.db.patch("oauthConnections", row._id, { keyId: `unreadable:${keyId}`, needsReconnect: true });
        unreadable++;
      }
    }
    budget -= Math.min(rows.length, budget);
    if (budget <= 0) {
      more = true;
      break;
    }
  }
  return { reencrypted, unreadable, more };
}

/** Connections per configured key id (bounded count: at most 1000 each). */
export async function keyUsage(ctx: QueryCtx): Promise<{ currentKeyId: string; rowsByKey: { keyId: string; rows: number }[] }> {
  const keys = await encryptionKeys();
  const rowsByKey: { keyId: string; rows: number }[] = [];
  for (const keyId of keys.keys.keys()) {
    const rows = await ctx.db
      .query("oauthConnections")
      .withIndex("by_key", (q) => q.eq("keyId", keyId))
      .take(1000);
    rowsByKey.push({ keyId, rows: rows.length });
  }
  return { currentKeyId: keys.currentId, rowsByKey };
}
