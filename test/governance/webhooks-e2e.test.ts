// Webhooks delivered for real: the embedded backend's scheduled internal
// action POSTs to a loopback receiver, which verifies every delivery's
// signature with the `standardwebhooks` library, answers 500 twice and then
// 200, and so sees the retries (same webhook-id) on a short backoff
// schedule. The delivery log shows every attempt. No secret in any payload.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ConvexHttpClient } from "convex/browser";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { passwordSignUp } from "../helpers/signup";

type Received = { id: string; timestamp: string; signature: string; body: string; verified: boolean; answered: number };

let b: SpawnedBackend;
let server: http.Server;
let hookUrl: string;
const received: Received[] = [];
let secret = "";
/** How the receiver answers the n-th request (0-based); afterwards 200. */
let answers: number[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = {
        "webhook-id": String(req.headers["webhook-id"] ?? ""),
        "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
        "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
      };
      let verified = false;
      try {
        new Webhook(secret).verify(body, headers);
        verified = true;
      } catch (e) {
        if (!(e instanceof WebhookVerificationError)) throw e;
      }
      const answered = answers[received.length] ?? 200;
      received.push({ id: headers["webhook-id"], timestamp: headers["webhook-timestamp"], signature: headers["webhook-signature"], body, verified, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keyhole-hook`;
  b = await spawnBackend({ env: { KEYHOLE_WEBHOOK_ALLOW_PRIVATE: "1", KEYHOLE_WEBHOOK_RETRY_DELAYS_MS: "200,400,400" } });
}, 60_000);

afterAll(async () => {
  await b?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("signed deliveries with retries", () => {
  let owner: ConvexHttpClient;

  test("every delivery verifies; after two 500s the third attempt is delivered, with the same webhook-id", async () => {
    owner = b.httpClient((await passwordSignUp(b, "hooks@example.com")).token);
    const created = await owner.mutation(api.webhooks.create, {
      url: hookUrl,
      eventTypes: ["token.revoked", "token.leak_reported"],
      description: "receiver",
    });
    secret = created.secret;
    answers = [500, 500];
    const pat = await owner.mutation(api.auth.createApiToken, { name: "to-revoke", scopes: [] });
    await owner.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });

    const log = await waitFor(
      () => owner.query(api.webhooks.listDeliveries, { endpointId: created.endpointId }),
      (l) => l.length === 1 && l[0].status === "delivered",
    );
    expect(received.map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(received.every((r) => r.verified)).toBe(true);
    expect(new Set(received.map((r) => r.id)).size).toBe(1);
    expect(received[0].id).toBe(log[0].messageId);
    expect(log[0].attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    // the backoff: each retry comes after its delay (200 ms, then 400 ms) at the earliest
    const at = log[0].attempts.map((a) => a.at);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(200);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(400);

    const body = JSON.parse(received[2].body);
    expect(body).toMatchObject({ type: "token.revoked", data: { tokenId: pat.tokenId, kind: "pat", name: "to-revoke" } });
    for (const r of received) expect(r.body).not.toContain(pat.token.split(".")[2]);
    expect(JSON.stringify(log)).not.toContain(secret.slice(6));
  });

  test("a body altered in transit, or another secret, fails verification", () => {
    const r = received[received.length - 1];
    const headers = { "webhook-id": r.id, "webhook-timestamp": r.timestamp, "webhook-signature": r.signature };
    expect(() => new Webhook(secret).verify(r.body.replace("to-revoke", "to-revokf"), headers)).toThrow(WebhookVerificationError);
    const other = "whsec_" + Buffer.alloc(24, 7).toString("base64");
    expect(() => new Webhook(other).verify(r.body, headers)).toThrow(WebhookVerificationError);
  });

  test("an endpoint that keeps failing is given up after the last retry; the log shows every attempt", async () => {
    const endpoints = await owner.query(api.webhooks.list, {});
    const before = received.length;
    answers = Array.from({ length: before + 4 }, (_, i) => (i < before ? 200 : 500));
    const deliveryId = await owner.mutation(api.webhooks.sendTest, { endpointId: endpoints[0]._id });
    const log = await waitFor(
      () => owner.query(api.webhooks.listDeliveries, { endpointId: endpoints[0]._id }),
      (l) => l.find((d) => d._id === deliveryId)?.status === "failed",
    );
    const d = log.find((x) => x._id === deliveryId)!;
    expect(d.attempts.map((a) => a.status)).toEqual([500, 500, 500, 500]);
    expect(received.slice(before).every((r) => r.verified && r.id === d.messageId)).toBe(true);
    expect(JSON.parse(received[received.length - 1].body).type).toBe("webhook.test");
  });
});
