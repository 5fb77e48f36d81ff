/**
 * Sends one webhook delivery (the body of the internal action
 * webhooks:deliver): signs the stored payload per Standard Webhooks with the
 * endpoint's secret (the `standardwebhooks` package: headers webhook-id,
 * webhook-timestamp, webhook-signature), POSTs it with a timeout, and records
 * the attempt, which schedules the retry. Redirects are not followed.
 */
import { Webhook } from "standardwebhooks";
import { internal } from "../../_generated/api";
import type { Id } from "../../_generated/dataModel";
import type { ActionCtx } from "../../_generated/server";
import { aadFor, decryptSecret, DecryptionError } from "../oauth/encryption";
import { checkWebhookUrl, type Attempt } from "./webhooks";

export const SEND_TIMEOUT_MS = 10_000;

async function post(url: string, headers: Record<string, string>, body: string): Promise<number> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
  try {
    const res = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: controller.signal });
    await res.body?.cancel().catch(() => {});
    return res.status;
  } finally {
    clearTimeout(timer);
  }
}

function describeFailure(e: unknown): string {
  if (e instanceof Error && e.name === "AbortError") return `no answer within ${SEND_TIMEOUT_MS / 1000} s`;
  if (e instanceof DecryptionError) return "the endpoint's secret cannot be decrypted (KEYHOLE_ENCRYPTION_KEYS lacks its key)";
  const data = (e as { data?: { message?: unknown } }).data;
  if (data && typeof data.message === "string") return data.message;
  const cause = (e as { cause?: { code?: unknown } }).cause;
  if (cause && typeof cause.code === "string") return `connection failed (${cause.code})`;
  return "connection failed";
}

export async function deliver(ctx: ActionCtx, deliveryId: Id<"webhookDeliveries">): Promise<void> {
  const job = await ctx.runQuery(internal.webhooks.deliveryForSend, { deliveryId });
  if (job === null) return;
  const at = Date.now();
  const attempt: Attempt = { at, status: null, durationMs: 0 };
  try {
    const url = checkWebhookUrl(job.url);
    const secret = await decryptSecret(job.secret, aadFor("webhookEndpoints", job.endpointId, "secret"));
    const signature = new Webhook(secret).sign(job.messageId, new Date(at), job.payload);
    attempt.status = await post(
      url,
      {
        "content-type": "application/json",
        "user-agent": "keyhole-webhooks/1",
        "webhook-id": job.messageId,
        "webhook-timestamp": String(Math.floor(at / 1000)),
        "webhook-signature": signature,
      },
      job.payload,
    );
  } catch (e) {
    attempt.error = describeFailure(e);
  }
  attempt.durationMs = Date.now() - at;
  await ctx.runMutation(internal.webhooks.recordAttempt, { deliveryId, attempt });
}
