/**
 * OAuth clients: RFC 7591 dynamic registration and the cache of Client ID
 * Metadata Documents, both in the `oauthClients` table, plus client
 * authentication at the token, revocation and introspection endpoints.
 *
 * Registration is open (anyone may register: that is what RFC 7591 is for),
 * so it is bounded: rate-limited per IP, and identical public registrations
 * share one client (a client that registers on every start does not grow the
 * table). A registration nobody used is reaped after a day; one in use lives
 * until a day after the last grant it holds can have ended (grants live at
 * most FAMILY_LIFETIME_MS).
 */
import { v, type Infer } from "convex/values";
import type { Doc } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { FAMILY_LIFETIME_MS } from "../agentSessions";
import { constantTimeEqual, randomToken, sha256Hex } from "../crypto";
import { consume, type Limit } from "../rateLimit";
import { requestInfo } from "../principal";
import type { CimdClient } from "./cimd";
import { displayName, MAX_REDIRECT_URIS, MAX_URI_CHARS, redirectUriProblem, UNUSED_CLIENT_TTL_MS } from "./config";
import { deleteBatch } from "../purge";

export const REGISTRATIONS_PER_IP: Limit = { max: 30, windowMs: 60 * 60_000 };
/** Client ids issued by registration start with this (never an URL, so never mistaken for a document). */
export const DCR_PREFIX = "khc_";
const MAX_NAME = 100;
const SUPPORTED_GRANTS = ["authorization_code", "refresh_token"];

export const vAuthMethod = v.union(v.literal("none"), v.literal("client_secret_basic"), v.literal("client_secret_post"));
export type AuthMethod = Infer<typeof vAuthMethod>;

/** The registration request fields keyhole uses (RFC 7591 §2); others are ignored. */
export type RegistrationRequest = {
  redirect_uris: string[];
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  grant_types?: string[];
  response_types?: string[];
  token_endpoint_auth_method?: string;
  scope?: string;
};

export const vRegistrationResult = v.union(
  v.object({
    ok: v.literal(true),
    client: v.object({
      client_id: v.string(),
      client_id_issued_at: v.number(),
      client_secret: v.optional(v.string()),
      client_secret_expires_at: v.optional(v.number()),
      client_name: v.string(),
      redirect_uris: v.array(v.string()),
      grant_types: v.array(v.string()),
      response_types: v.array(v.string()),
      token_endpoint_auth_method: vAuthMethod,
      client_uri: v.optional(v.string()),
      logo_uri: v.optional(v.string()),
      scope: v.optional(v.string()),
    }),
  }),
  v.object({ ok: v.literal(false), error: v.string(), description: v.string(), retryAfterS: v.optional(v.number()) }),
);
export type RegistrationResult = Infer<typeof vRegistrationResult>;

const refuse = (description: string): RegistrationResult => ({ ok: false, error: "invalid_client_metadata", description });

function optionalHttps(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  try {
    if (value.length <= MAX_URI_CHARS && new URL(value).protocol === "https:") return value;
  } catch {
    // falls through
  }
  throw new Error(`${field} must be an https URL`);
}

/** The normalized registration, or the reason it is refused. */
export function normalizeRegistration(req: RegistrationRequest):
  | { name: string; redirectUris: string[]; clientUri?: string; logoUri?: string; authMethod: AuthMethod; grantTypes: string[]; scope?: string }
  | string {
  const uris = req.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > MAX_REDIRECT_URIS) {
    return `redirect_uris must list 1-${MAX_REDIRECT_URIS} URIs`;
  }
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem !== null) return `redirect URI ${uri.slice(0, 100)} ${problem}`;
  }
  // RFC 7591 §2: the default method is client_secret_basic.
  const method = req.token_endpoint_auth_method ?? "client_secret_basic";
  if (method !== "none" && method !== "client_secret_basic" && method !== "client_secret_post") {
    return `token_endpoint_auth_method must be none, client_secret_basic or client_secret_post`;
  }
  if (req.response_types !== undefined && req.response_types.some((t) => t !== "code")) return "only the response type code is supported";
  const grantTypes = req.grant_types ?? ["authorization_code"];
  if (!grantTypes.includes("authorization_code") || grantTypes.some((g) => !SUPPORTED_GRANTS.includes(g))) {
    return "grant_types must include authorization_code and may add refresh_token";
  }
  let clientUri: string | undefined, logoUri: string | undefined;
  try {
    clientUri = optionalHttps(req.client_uri, "client_uri");
    logoUri = optionalHttps(req.logo_uri, "logo_uri");
  } catch (e) {
    return (e as Error).message;
  }
  const name = displayName(req.client_name ?? "", MAX_NAME) || new URL(uris[0]).host || "Unnamed app";
  return {
    name,
    redirectUris: [...new Set(uris)],
    clientUri,
    logoUri,
    authMethod: method,
    grantTypes: SUPPORTED_GRANTS.filter((g) => grantTypes.includes(g)),
    scope: req.scope?.slice(0, 1000),
  };
}

function registrationResponse(c: Doc<"oauthClients">, secret?: string): RegistrationResult {
  return {
    ok: true,
    client: {
      client_id: c.clientId,
      client_id_issued_at: Math.floor(c.createdAt / 1000),
      ...(secret !== undefined ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
      client_name: c.name,
      redirect_uris: c.redirectUris,
      grant_types: c.grantTypes,
      response_types: ["code"],
      token_endpoint_auth_method: c.authMethod,
      ...(c.clientUri ? { client_uri: c.clientUri } : {}),
      ...(c.logoUri ? { logo_uri: c.logoUri } : {}),
      ...(c.scope ? { scope: c.scope } : {}),
    },
  };
}

/**
 * RFC 7591 registration. Public clients (auth method `none`) with the same
 * normalized metadata get the same client back; a confidential client gets a
 * fresh id and secret (shown once, stored hashed).
 */
export async function registerClient(ctx: MutationCtx, req: RegistrationRequest): Promise<RegistrationResult> {
  const info = await requestInfo(ctx);
  const wait = await consume(ctx, `oauth-register:ip:${info.ip ?? "unknown"}`, REGISTRATIONS_PER_IP);
  if (wait > 0) {
    return { ok: false, error: "rate_limited", description: "too many registrations from this address: try again later", retryAfterS: Math.ceil(wait / 1000) };
  }
  const n = normalizeRegistration(req);
  if (typeof n === "string") return refuse(n);
  const now = Date.now();
  let metadataHash: string | undefined;
  if (n.authMethod === "none") {
    metadataHash = await sha256Hex(JSON.stringify([n.name, [...n.redirectUris].sort(), n.clientUri ?? null, n.logoUri ?? null, n.grantTypes, n.scope ?? null]));
    const same = await ctx.db
      .query("oauthClients")
      .withIndex("by_metadata_hash", (q) => q.eq("metadataHash", metadataHash))
      .first();
    if (same !== null && same.reapAt > now) {
      await ctx.db.patch("oauthClients", same._id, { reapAt: Math.max(same.reapAt, now + UNUSED_CLIENT_TTL_MS) });
      return registrationResponse(same);
    }
  }
  const secret = n.authMethod === "none" ? undefined : `khs_${randomToken(32)}`;
  const id = await ctx.db.insert("oauthClients", {
    clientId: DCR_PREFIX + randomToken(18),
    kind: "dcr",
    name: n.name,
    redirectUris: n.redirectUris,
    clientUri: n.clientUri,
    logoUri: n.logoUri,
    authMethod: n.authMethod,
    secretHash: secret === undefined ? undefined : await sha256Hex(secret),
    metadataHash,
    grantTypes: n.grantTypes,
    scope: n.scope,
    createdAt: now,
    reapAt: now + UNUSED_CLIENT_TTL_MS,
  });
  return registrationResponse((await ctx.db.get("oauthClients", id))!, secret);
}

export async function clientById(ctx: QueryCtx, clientId: string): Promise<Doc<"oauthClients"> | null> {
  if (clientId.length === 0 || clientId.length > MAX_URI_CHARS) return null;
  return await ctx.db
    .query("oauthClients")
    .withIndex("by_client_id", (q) => q.eq("clientId", clientId))
    .unique();
}

/** Stores (or refreshes) the cached copy of a fetched metadata document. */
export async function cacheCimdClient(ctx: MutationCtx, c: CimdClient, maxAgeS: number): Promise<void> {
  const now = Date.now();
  const fields = {
    name: c.name,
    redirectUris: c.redirectUris,
    clientUri: c.clientUri,
    logoUri: c.logoUri,
    grantTypes: c.grantTypes,
    scope: c.scope,
    staleAt: now + maxAgeS * 1000,
  };
  const existing = await clientById(ctx, c.clientId);
  if (existing !== null && existing.kind === "cimd") {
    await ctx.db.patch("oauthClients", existing._id, { ...fields, reapAt: Math.max(existing.reapAt, fields.staleAt + UNUSED_CLIENT_TTL_MS) });
    return;
  }
  if (existing !== null) return; // a registered id never turns into a document
  await ctx.db.insert("oauthClients", {
    clientId: c.clientId,
    kind: "cimd",
    authMethod: "none",
    createdAt: now,
    reapAt: fields.staleAt + UNUSED_CLIENT_TTL_MS,
    ...fields,
  });
}

/** Keeps a client that just got (or refreshed) a grant until that grant can have ended. */
export async function keepClient(ctx: MutationCtx, clientId: string, familyExpiresAt: number): Promise<void> {
  const c = await clientById(ctx, clientId);
  const until = familyExpiresAt + UNUSED_CLIENT_TTL_MS;
  if (c !== null && c.reapAt < until - 3600_000) await ctx.db.patch("oauthClients", c._id, { reapAt: until });
}

export const vClientAuth = v.object({
  clientId: v.string(),
  secret: v.optional(v.string()),
  method: vAuthMethod,
});
export type ClientAuth = Infer<typeof vClientAuth>;

/**
 * Client authentication (RFC 6749 §2.3): a confidential client must present
 * its secret (HTTP Basic or in the form); a public client (registered with
 * `none`, or a metadata-document URL) only names itself. Null = refused.
 */
export async function authenticateClient(ctx: QueryCtx, auth: ClientAuth): Promise<{ clientId: string } | null> {
  const c = await clientById(ctx, auth.clientId);
  if (c === null) return null;
  if (c.secretHash === undefined) return auth.secret === undefined ? { clientId: c.clientId } : null;
  // Either secret-presenting method is accepted (both carry the same secret; clients differ in which they pick).
  if (auth.secret === undefined || auth.method === "none") return null;
  return constantTimeEqual(await sha256Hex(auth.secret), c.secretHash) ? { clientId: c.clientId } : null;
}

/** Deletes clients past their reap time (and unused requests and codes): returns whether more remain. */
export async function reapClients(ctx: MutationCtx, now = Date.now(), batch = 200): Promise<boolean> {
  const clients = await deleteBatch(ctx, "oauthClients", (q) => q.withIndex("by_reap", (i) => i.lt("reapAt", now)), batch);
  const requests = await deleteBatch(ctx, "oauthAuthRequests", (q) => q.withIndex("by_expires", (i) => i.lt("expiresAt", now)), batch);
  const codes = await deleteBatch(
    ctx,
    "oauthCodes",
    (q) => q.withIndex("by_expires", (i) => i.lt("expiresAt", now - FAMILY_LIFETIME_MS)),
    batch,
  );
  return clients || requests || codes;
}
