/**
 * Webhooks (docs/governance.md, "Webhooks"): a person's endpoints hear about
 * their own credentials; an org's endpoints (owners and admins manage them)
 * hear about the credentials that reach the org. Deliveries are signed per
 * Standard Webhooks and sent by the scheduled internal action `deliver`,
 * retried with backoff; every attempt is logged on the delivery.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalAction, internalMutation, internalQuery, mutation, query } from "./_generated/server";
import { deliver as send } from "./model/governance/send";
import { vDeliveryAttempt, vDeliveryStatus, vWebhookEventType } from "./model/governance/validators";
import * as Webhooks from "./model/governance/webhooks";

const vEndpoint = v.object({
  _id: v.id("webhookEndpoints"),
  org: v.union(v.string(), v.null()),
  url: v.string(),
  description: v.union(v.string(), v.null()),
  eventTypes: v.array(vWebhookEventType),
  createdAt: v.number(),
});

/**
 * Registers an endpoint: yours (no `org`), or an org's (a signed-in owner or
 * admin: org:configure). The signing secret (`whsec_…`) is in this result only.
 */
export const create = mutation({
  args: {
    org: v.optional(v.string()),
    url: v.string(),
    eventTypes: v.array(v.string()),
    description: v.optional(v.string()),
  },
  returns: v.object({ endpointId: v.id("webhookEndpoints"), secret: v.string() }),
  handler: async (ctx, args) => await Webhooks.createEndpoint(ctx, args),
});

/** Your endpoints, or an org's (org:configure); never a secret. People only. */
export const list = query({
  args: { org: v.optional(v.string()) },
  returns: v.array(vEndpoint),
  handler: async (ctx, args) => await Webhooks.listEndpoints(ctx, args.org),
});

/** Removes an endpoint you may manage (yours, or your org's with org:configure). */
export const remove = mutation({
  args: { endpointId: v.string() },
  returns: v.null(),
  handler: async (ctx, args) => await Webhooks.removeEndpoint(ctx, args.endpointId),
});

/** The delivery log of an endpoint you may manage: the last 50 deliveries with every attempt. */
export const listDeliveries = query({
  args: { endpointId: v.string() },
  returns: v.array(
    v.object({
      _id: v.id("webhookDeliveries"),
      messageId: v.string(),
      eventType: v.string(),
      payload: v.string(),
      status: vDeliveryStatus,
      attempts: v.array(vDeliveryAttempt),
      nextAttemptAt: v.union(v.number(), v.null()),
      createdAt: v.number(),
    }),
  ),
  handler: async (ctx, args) => await Webhooks.listDeliveries(ctx, args.endpointId),
});

/** Sends a `webhook.test` event to an endpoint you may manage. */
export const sendTest = mutation({
  args: { endpointId: v.string() },
  returns: v.id("webhookDeliveries"),
  handler: async (ctx, args) => await Webhooks.sendTest(ctx, args.endpointId),
});

// --- internal: sending -----------------------------------------------------------

/** Sends one delivery attempt (scheduled by enqueueDelivery and by recordAttempt's backoff). */
export const deliver = internalAction({
  args: { deliveryId: v.id("webhookDeliveries") },
  returns: v.null(),
  handler: async (ctx, args) => {
    await send(ctx, args.deliveryId);
    return null;
  },
});

export const deliveryForSend = internalQuery({
  args: { deliveryId: v.id("webhookDeliveries") },
  returns: v.union(
    v.null(),
    v.object({
      endpointId: v.id("webhookEndpoints"),
      url: v.string(),
      secret: v.string(),
      messageId: v.string(),
      payload: v.string(),
    }),
  ),
  handler: async (ctx, args) => await Webhooks.deliveryForSend(ctx, args.deliveryId),
});

export const recordAttempt = internalMutation({
  args: { deliveryId: v.id("webhookDeliveries"), attempt: vDeliveryAttempt },
  returns: v.null(),
  handler: async (ctx, args) => await Webhooks.recordAttempt(ctx, args.deliveryId, args.attempt),
});

/** Delivery logs are kept 30 days. */
export const pruneDeliveries = internalMutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    if (await Webhooks.pruneDeliveries(ctx, 30 * 24 * 3600_000)) {
      await ctx.scheduler.runAfter(0, internal.webhooks.pruneDeliveries, {});
    }
    return null;
  },
});
