/**
 * Webhook endpoints and deliveries (Standard Webhooks, https://www.standardwebhooks.com).
 *
 * A person registers endpoints for their own credentials; an org owner or
 * admin (org:configure) for the credentials that reach the org. Both need an
 * interactive sign-in. The endpoint's signing secret (`whsec_…`) is returned
 * once and stored AES-256-GCM encrypted (model/oauth/encryption.ts).
 *
 * Each event becomes one delivery row per endpoint, sent by the scheduled
 * internal action webhooks:deliver (convex/webhooks.ts, model/governance/send.ts).
 * A non-2xx answer or no answer is retried with backoff (RETRY_DELAYS_MS;
 * `webhook-id` stays the same, so receivers can deduplicate); every attempt
 * is kept on the row, which is the delivery log.
 *
 * URLs must be https and must not name a private or loopback host, unless
 * env KEYHOLE_WEBHOOK_ALLOW_PRIVATE=1 (local development and tests). Host
 * names are not resolved here, so a public name that resolves to a private
 * address is not caught: put egress filtering in front of a deployment that
 * needs that guarantee.
 */
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { internal } from "../../_generated/api";
import { actorOf, logAudit } from "../audit";
import { authorize, authorizePath } from "../authorize";
import { base64url, randomToken } from "../crypto";
import { keyholeError } from "../errors";
import { aadFor, encryptSecret } from "../oauth/encryption";
import type { UserPrincipal } from "../principal";
import { enforce } from "../rateLimit";
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from "./validators";
import type { UserMutationCtx, UserQueryCtx } from "../functions";
import { deleteBatch } from "../purge";

export const MAX_ENDPOINTS_PER_OWNER = 10;
export const DELIVERIES_LISTED = 50;
export const MAX_URL = 2048;
/** Test deliveries one person may queue a minute (each is an outbound POST, retried up to 8 times). */
export const WEBHOOK_TEST_LIMIT = { max: 10, windowMs: 60_000 };
/**
 * Waits before each retry, after the first attempt (the schedule the Standard
 * Webhooks guide suggests): 8 attempts over about a day.
 * Env KEYHOLE_WEBHOOK_RETRY_DELAYS_MS (comma-separated ms) replaces it.
 */
export const RETRY_DELAYS_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 5 * 3600_000, 10 * 3600_000, 10 * 3600_000];

export function retryDelays(env: Record<string, string | undefined> = process.env): number[] {
  const raw = env.KEYHOLE_WEBHOOK_RETRY_DELAYS_MS;
  if (!raw) return RETRY_DELAYS_MS;
  const parsed = raw.split(",").map((s) => Number(s.trim()));
  return parsed.length > 0 && parsed.length <= 20 && parsed.every((n) => Number.isInteger(n) && n >= 0) ? parsed : RETRY_DELAYS_MS;
}

export function allowPrivateTargets(env: Record<string, string | undefined> = process.env): boolean {
  return env.KEYHOLE_WEBHOOK_ALLOW_PRIVATE === "1";
}

function isPrivateIPv4(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return (
    a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224
  );
}

/** A webhook URL we are willing to call; the message says what is wrong. */
export function checkWebhookUrl(raw: string, allowPrivate = allowPrivateTargets()): string {
  const bad = (why: string) => keyholeError("invalid_argument", `webhook url ${why}`);
  if (raw.length > MAX_URL) throw bad(`is longer than ${MAX_URL} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad("is not a valid URL");
  }
  if (url.username || url.password) throw bad("must not carry a user name or password");
  if (url.hash) throw bad("must not have a #fragment");
  if (allowPrivate) {
    if (url.protocol !== "https:" && url.protocol !== "http:") throw bad("must be http(s)");
    return url.toString();
  }
  if (url.protocol !== "https:") throw bad("must use https");
  // "localhost." is localhost to every resolver: judge the name without its trailing dots.
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  if (
    host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal") ||
    host.startsWith("[") || isPrivateIPv4(host) || !host.includes(".")
  ) {
    throw bad("must name a public host (not localhost, a private address or an IP v6 literal)");
  }
  return url.toString();
}

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  // Standard base64 (the format standardwebhooks decodes), no padding needed for 24 bytes.
  return `whsec_${base64url(bytes).replace(/-/g, "+").replace(/_/g, "/")}`;
}

function checkEventTypes(types: string[]): WebhookEventType[] {
  if (types.length === 0) throw keyholeError("invalid_argument", "eventTypes names no event");
  const out = new Set<WebhookEventType>();
  for (const t of types) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(t)) {
      throw keyholeError("invalid_argument", `unknown event type "${t.slice(0, 64)}": use ${WEBHOOK_EVENT_TYPES.join(", ")}`);
    }
    out.add(t as WebhookEventType);
  }
  return [...out];
}

// --- access --------------------------------------------------------------------

/** A person managing endpoints: their own, or an org's with org:configure. */
async function ownerScope(ctx: UserQueryCtx, org: string | undefined) {
  const user = ctx.user;
  if (org === undefined) return { user, orgDoc: null };
  const { resource } = await authorizePath(ctx, "org:configure", org);
  return { user, orgDoc: resource.org };
}

/** An endpoint the caller may manage; anything else reads as not found. */
export async function manageableEndpoint(ctx: UserQueryCtx, endpointId: string): Promise<{ user: UserPrincipal; endpoint: Doc<"webhookEndpoints"> }> {
  const user = ctx.user;
  const id = ctx.db.normalizeId("webhookEndpoints", endpointId);
  const endpoint = id === null ? null : await ctx.db.get("webhookEndpoints", id);
  const notFound = keyholeError("not_found", `no webhook endpoint with id "${endpointId.slice(0, 64)}"`);
  if (endpoint === null) throw notFound;
  if (endpoint.userId !== undefined) {
    if (endpoint.userId !== user.userId) throw notFound;
    return { user, endpoint };
  }
  const org = endpoint.orgId ? await ctx.db.get("orgs", endpoint.orgId) : null;
  if (org === null) throw notFound;
  try {
    await authorize(ctx, "org:configure", { org });
  } catch {
    throw notFound;
  }
  return { user, endpoint };
}

// --- endpoints -----------------------------------------------------------------

export async function createEndpoint(
  ctx: UserMutationCtx,
  args: { org?: string; url: string; eventTypes: string[]; description?: string },
) {
  const { user, orgDoc } = await ownerScope(ctx, args.org);
  const url = checkWebhookUrl(args.url);
  const eventTypes = checkEventTypes(args.eventTypes);
  if (args.description !== undefined && args.description.length > 256) {
    throw keyholeError("invalid_argument", "description must be at most 256 characters");
  }
  const existing = orgDoc
    ? await ctx.db.query("webhookEndpoints").withIndex("by_org", (q) => q.eq("orgId", orgDoc._id)).take(MAX_ENDPOINTS_PER_OWNER)
    : await ctx.db.query("webhookEndpoints").withIndex("by_user", (q) => q.eq("userId", user.userId)).take(MAX_ENDPOINTS_PER_OWNER);
  if (existing.length >= MAX_ENDPOINTS_PER_OWNER) {
    throw keyholeError("conflict", `at most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints per ${orgDoc ? "organization" : "person"}`);
  }
  const secret = newSecret();
  const endpointId = await ctx.db.insert("webhookEndpoints", {
    ...(orgDoc ? { orgId: orgDoc._id } : { userId: user.userId }),
    url,
    description: args.description || undefined,
    eventTypes,
    secret: "",
    createdBy: user.userId,
    createdAt: Date.now(),
  });
  await ctx.db.patch("webhookEndpoints", endpointId, {
    secret: await encryptSecret(secret, aadFor("webhookEndpoints", endpointId, "secret")),
  });
  await logAudit(ctx, {
    userId: user.userId,
    action: "webhook.created",
    actor: actorOf(user),
    targetType: "webhookEndpoint",
    targetId: endpointId,
    details: `${orgDoc ? `org=${orgDoc.slug} ` : ""}url=${url.slice(0, 200)} events=${eventTypes.join(",")}`,
  });
  return { endpointId, secret };
}

export function endpointView(e: Doc<"webhookEndpoints">, orgSlug: string | null) {
  return {
    _id: e._id,
    org: orgSlug,
    url: e.url,
    description: e.description ?? null,
    eventTypes: e.eventTypes,
    createdAt: e.createdAt,
  };
}

export async function listEndpoints(ctx: UserQueryCtx, org: string | undefined) {
  const { user, orgDoc } = await ownerScope(ctx, org);
  const rows = orgDoc
    ? await ctx.db.query("webhookEndpoints").withIndex("by_org", (q) => q.eq("orgId", orgDoc._id)).take(MAX_ENDPOINTS_PER_OWNER)
    : await ctx.db.query("webhookEndpoints").withIndex("by_user", (q) => q.eq("userId", user.userId)).take(MAX_ENDPOINTS_PER_OWNER);
  return rows.map((e) => endpointView(e, orgDoc?.slug ?? null));
}

export async function removeEndpoint(ctx: UserMutationCtx, endpointId: string) {
  const { user, endpoint } = await manageableEndpoint(ctx, endpointId);
  await ctx.db.delete("webhookEndpoints", endpoint._id);
  await logAudit(ctx, {
    userId: user.userId,
    action: "webhook.removed",
    actor: actorOf(user),
    targetType: "webhookEndpoint",
    targetId: endpoint._id,
    details: `url=${endpoint.url.slice(0, 200)}`,
  });
  return null;
}

/** The endpoint's recent deliveries with every attempt, newest first. */
export async function listDeliveries(ctx: UserQueryCtx, endpointId: string) {
  const { endpoint } = await manageableEndpoint(ctx, endpointId);
  const rows = await ctx.db
    .query("webhookDeliveries")
    .withIndex("by_endpoint", (q) => q.eq("endpointId", endpoint._id))
    .order("desc")
    .take(DELIVERIES_LISTED);
  return rows.map((d) => ({
    _id: d._id,
    messageId: d.messageId,
    eventType: d.eventType,
    payload: d.payload,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt ?? null,
    createdAt: d.createdAt,
  }));
}

/** Queues a `webhook.test` event to one endpoint. */
export async function sendTest(ctx: UserMutationCtx, endpointId: string) {
  const { user, endpoint } = await manageableEndpoint(ctx, endpointId);
  await enforce(ctx, `webhook-test:${user.userId}`, WEBHOOK_TEST_LIMIT, "webhook test deliveries");
  const payload = JSON.stringify({
    type: "webhook.test",
    timestamp: new Date().toISOString(),
    data: { endpointId: endpoint._id, requestedBy: user.userId },
  });
  return await enqueueDelivery(ctx, endpoint._id, "webhook.test", payload);
}

// --- deliveries ----------------------------------------------------------------

export async function enqueueDelivery(
  ctx: MutationCtx,
  endpointId: Id<"webhookEndpoints">,
  eventType: string,
  payload: string,
): Promise<Id<"webhookDeliveries">> {
  const now = Date.now();
  const deliveryId = await ctx.db.insert("webhookDeliveries", {
    endpointId,
    messageId: `msg_${randomToken(18)}`,
    eventType,
    payload,
    status: "pending",
    attempts: [],
    nextAttemptAt: now,
    createdAt: now,
  });
  await ctx.scheduler.runAfter(0, internal.webhooks.deliver, { deliveryId });
  return deliveryId;
}

/** What the sending action needs; null when there is nothing (left) to send. */
export async function deliveryForSend(ctx: QueryCtx, deliveryId: Id<"webhookDeliveries">) {
  const d = await ctx.db.get("webhookDeliveries", deliveryId);
  if (d === null || d.status === "delivered" || d.status === "failed") return null;
  const e = await ctx.db.get("webhookEndpoints", d.endpointId);
  if (e === null) return null;
  return { endpointId: e._id, url: e.url, secret: e.secret, messageId: d.messageId, payload: d.payload };
}

export type Attempt = { at: number; status: number | null; error?: string; durationMs: number };

/** Records one attempt; schedules the next one with backoff, or gives up after the last. */
export async function recordAttempt(ctx: MutationCtx, deliveryId: Id<"webhookDeliveries">, attempt: Attempt) {
  const d = await ctx.db.get("webhookDeliveries", deliveryId);
  if (d === null || d.status === "delivered" || d.status === "failed") return null;
  const attempts = [...d.attempts, { ...attempt, error: attempt.error?.slice(0, 200) }];
  const ok = attempt.status !== null && attempt.status >= 200 && attempt.status < 300;
  const delays = retryDelays();
  if (ok) {
    await ctx.db.patch("webhookDeliveries", d._id, { attempts, status: "delivered", nextAttemptAt: undefined });
  } else if (attempts.length > delays.length) {
    await ctx.db.patch("webhookDeliveries", d._id, { attempts, status: "failed", nextAttemptAt: undefined });
  } else {
    const delay = delays[attempts.length - 1];
    await ctx.db.patch("webhookDeliveries", d._id, { attempts, status: "retrying", nextAttemptAt: Date.now() + delay });
    await ctx.scheduler.runAfter(delay, internal.webhooks.deliver, { deliveryId: d._id });
  }
  return null;
}

/** Deletes deliveries older than `olderThanMs`; returns whether more remain. */
export async function pruneDeliveries(ctx: MutationCtx, olderThanMs: number, batch = 500): Promise<boolean> {
  const cutoff = Date.now() - olderThanMs;
  return await deleteBatch(ctx, "webhookDeliveries", (q) => q.withIndex("by_created", (i) => i.lt("createdAt", cutoff)), batch);
}
