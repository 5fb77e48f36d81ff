// Webhook endpoints and events through the functions (convex-test; the
// scheduled sends are not run here — test/governance/webhooks-e2e.test.ts
// delivers to a real receiver): who may register, URL rules, which events
// reach which endpoint, and never a secret in a payload or a list.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { sha256Hex } from "../../convex/model/crypto";
import { checkWebhookUrl, RETRY_DELAYS_MS, retryDelays } from "../../convex/model/governance/webhooks";
import { codeOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "../tokens/fixtures";

// Scheduled sends stay queued: convex-test runs them on (faked) timers only when told to.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const URL_OK = "https://hooks.example.com/keyhole";
const ALL = ["token.expiring", "token.expired", "token.revoked", "token.leak_reported", "session.reuse_detected", "org.token_revoked"];

async function deliveries(w: Awaited<ReturnType<typeof world>>) {
  return await w.t.run(async (ctx) => await ctx.db.query("webhookDeliveries").collect());
}

describe("URLs", () => {
  test.each([
    ["http://hooks.example.com/x", /https/],
    ["https://localhost/x", /public host/],
    ["https://app.localhost/x", /public host/],
    ["https://127.0.0.1/x", /public host/],
    ["https://10.1.2.3/x", /public host/],
    ["https://169.254.169.254/latest", /public host/],
    ["https://192.168.0.1/x", /public host/],
    ["https://[::1]/x", /public host/],
    ["https://intranet/x", /public host/],
    ["https://user:pw@hooks.example.com/x", /user name/],
    ["not a url", /valid URL/],
  ])("%s is refused", (url, why) => {
    expect(() => checkWebhookUrl(url, false)).toThrow(why);
  });

  test("a public https URL passes; private targets only with KEYHOLE_WEBHOOK_ALLOW_PRIVATE", () => {
    expect(checkWebhookUrl(URL_OK, false)).toBe(URL_OK);
    expect(checkWebhookUrl("http://127.0.0.1:9999/hook", true)).toBe("http://127.0.0.1:9999/hook");
  });

  test("retry delays: the default schedule, or the env override when it is well-formed", () => {
    expect(retryDelays({})).toEqual(RETRY_DELAYS_MS);
    expect(retryDelays({ KEYHOLE_WEBHOOK_RETRY_DELAYS_MS: "100, 200" })).toEqual([100, 200]);
    expect(retryDelays({ KEYHOLE_WEBHOOK_RETRY_DELAYS_MS: "100,x" })).toEqual(RETRY_DELAYS_MS);
  });
});

describe("endpoints", () => {
  test("the secret is returned once: not listed, not stored in the clear", async () => {
    const w = await world();
    const { endpointId, secret } = await w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["token.revoked"] });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const listed = await w.carol.as.query(api.webhooks.list, {});
    expect(listed).toEqual([expect.objectContaining({ _id: endpointId, url: URL_OK, org: null, eventTypes: ["token.revoked"] })]);
    const dump = JSON.stringify(await w.t.run(async (ctx) => [await ctx.db.query("webhookEndpoints").collect(), await ctx.db.query("auditEvents").collect()]));
    expect(dump).not.toContain(secret.slice(6));
    expect(JSON.stringify(listed)).not.toContain(secret.slice(6));
  });

  test("org endpoints need a signed-in owner or admin; others' endpoints are not found", async () => {
    const w = await world();
    const args = { org: "acme", url: URL_OK, eventTypes: ["org.token_revoked"] };
    expect(await codeOf(w.carol.as.mutation(api.webhooks.create, args))).toBe("forbidden");
    expect(await codeOf(w.mallory.as.mutation(api.webhooks.create, args))).toBe("forbidden");
    const alicePat = await patFor(w.t, w.alice, []);
    expect(await codeOf(alicePat.as.mutation(api.webhooks.create, args))).toBe("forbidden");
    const { endpointId } = await w.dave.as.mutation(api.webhooks.create, args);
    expect((await w.alice.as.query(api.webhooks.list, { org: "acme" })).map((e) => e._id)).toEqual([endpointId]);
    for (const who of [w.carol, w.mallory]) {
      expect(await codeOf(who.as.query(api.webhooks.listDeliveries, { endpointId }))).toBe("not_found");
      expect(await codeOf(who.as.mutation(api.webhooks.remove, { endpointId }))).toBe("not_found");
    }
    const mine = await w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["token.revoked"] });
    expect(await codeOf(w.alice.as.mutation(api.webhooks.remove, { endpointId: mine.endpointId }))).toBe("not_found");
  });

  test("bad event types and too many endpoints are refused", async () => {
    const w = await world();
    expect(await codeOf(w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: [] }))).toBe("invalid_argument");
    expect(await codeOf(w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["token.stolen"] }))).toBe(
      "invalid_argument",
    );
    for (let i = 0; i < 10; i++) await w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["token.revoked"] });
    expect(await codeOf(w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["token.revoked"] }))).toBe("conflict");
  });
});

describe("events", () => {
  test("a revocation reaches the owner's endpoint and the endpoints of the orgs the token reaches, never a secret", async () => {
    const w = await world();
    await w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ALL });
    const acme = await w.alice.as.mutation(api.webhooks.create, { org: "acme", url: URL_OK, eventTypes: ALL });
    const evil = await w.mallory.as.mutation(api.webhooks.create, { org: "evil", url: URL_OK, eventTypes: ALL });
    const pat = await patFor(w.t, w.carol, ["acme/site=work:read"], { name: "ci" });
    await w.carol.as.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    const ds = await deliveries(w);
    expect(ds.map((d) => d.eventType)).toEqual(["token.revoked", "token.revoked"]);
    expect(ds.map((d) => d.endpointId)).toContain(acme.endpointId);
    expect(ds.map((d) => d.endpointId)).not.toContain(evil.endpointId);
    const body = JSON.parse(ds[0].payload);
    expect(body).toMatchObject({ type: "token.revoked", data: { tokenId: pat.tokenId, kind: "pat", name: "ci", reason: "revoked by owner" } });
    expect(Date.parse(body.timestamp)).not.toBeNaN();
    const all = JSON.stringify(ds);
    expect(all).not.toContain(pat.token.split(".")[2]);
    expect(all).not.toContain(await sha256Hex(pat.token));
  });

  test("an endpoint hears only the types it subscribed to; an admin revoke raises org.token_revoked and token.revoked", async () => {
    const w = await world();
    const onlyOrg = await w.alice.as.mutation(api.webhooks.create, { org: "acme", url: URL_OK, eventTypes: ["org.token_revoked"] });
    const carolHook = await w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["token.revoked", "org.token_revoked"] });
    const pat = await patFor(w.t, w.carol, ["acme=work:read"]);
    await w.dave.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: pat.tokenId, reason: "audit" });
    const ds = await deliveries(w);
    const of = (id: string) => ds.filter((d) => d.endpointId === id).map((d) => d.eventType).sort();
    expect(of(onlyOrg.endpointId)).toEqual(["org.token_revoked"]);
    expect(of(carolHook.endpointId)).toEqual(["org.token_revoked", "token.revoked"]);
    const org = JSON.parse(ds.find((d) => d.endpointId === onlyOrg.endpointId)!.payload);
    expect(org.data).toMatchObject({ org: "acme", revokedBy: w.dave.userId, tokenId: pat.tokenId });
    expect(org.data.reason).toMatch(/dave@example.com.*audit/);
  });

  test("a refresh-token replay raises session.reuse_detected", async () => {
    const w = await world();
    const hook = await w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["session.reuse_detected"] });
    const s = await w.carol.as.mutation(api.auth.createSession, { agentId: "bot", ttl: 600, scopes: ["acme=work:read"] });
    const first = await w.t.mutation(api.auth.refreshSession, { refreshToken: s.refreshToken });
    expect(first.ok).toBe(true);
    const replay = await w.t.mutation(api.auth.refreshSession, { refreshToken: s.refreshToken });
    expect(replay.ok).toBe(false);
    const ds = (await deliveries(w)).filter((d) => d.endpointId === hook.endpointId);
    expect(ds.map((d) => d.eventType)).toEqual(["session.reuse_detected"]);
    expect(ds[0].payload).not.toContain(s.refreshToken);
    expect(ds[0].payload).not.toContain(s.token.split(".")[2]);
    expect(JSON.parse(ds[0].payload).data).toMatchObject({ kind: "agent", name: "bot" });
  });

  test("sessions' events reach org endpoints only when the session reaches the org", async () => {
    const w = await world();
    const acme = await w.alice.as.mutation(api.webhooks.create, { org: "acme", url: URL_OK, eventTypes: ["token.revoked"] });
    const sess = await agentSessionFor(w.t, w.carol.userId, { scopes: [{ permissions: ["tokens:read"] }] });
    expect(await codeOf(w.dave.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: sess.sessionId }))).toBe("not_found");
    expect((await deliveries(w)).filter((d) => d.endpointId === acme.endpointId)).toEqual([]);
  });
});

describe("the delivery log", () => {
  test("attempts are recorded; a failure is retried on the schedule, then given up", async () => {
    const w = await world();
    process.env.KEYHOLE_WEBHOOK_RETRY_DELAYS_MS = "1000,2000";
    try {
      const { endpointId } = await w.carol.as.mutation(api.webhooks.create, { url: URL_OK, eventTypes: ["token.revoked"] });
      const deliveryId = await w.carol.as.mutation(api.webhooks.sendTest, { endpointId });
      const attempt = (status: number | null) => ({ at: Date.now(), status, durationMs: 5, ...(status ? {} : { error: "refused" }) });
      await w.t.mutation(internal.webhooks.recordAttempt, { deliveryId, attempt: attempt(500) });
      let [log] = await w.carol.as.query(api.webhooks.listDeliveries, { endpointId });
      expect(log).toMatchObject({ status: "retrying", eventType: "webhook.test", nextAttemptAt: Date.now() + 1000 });
      await w.t.mutation(internal.webhooks.recordAttempt, { deliveryId, attempt: attempt(null) });
      [log] = await w.carol.as.query(api.webhooks.listDeliveries, { endpointId });
      expect(log).toMatchObject({ status: "retrying", nextAttemptAt: Date.now() + 2000 });
      await w.t.mutation(internal.webhooks.recordAttempt, { deliveryId, attempt: attempt(503) });
      [log] = await w.carol.as.query(api.webhooks.listDeliveries, { endpointId });
      expect(log.status).toBe("failed");
      expect(log.attempts.map((a) => a.status)).toEqual([500, null, 503]);
      // a late attempt after the end changes nothing
      await w.t.mutation(internal.webhooks.recordAttempt, { deliveryId, attempt: attempt(200) });
      expect((await w.carol.as.query(api.webhooks.listDeliveries, { endpointId }))[0].status).toBe("failed");
    } finally {
      delete process.env.KEYHOLE_WEBHOOK_RETRY_DELAYS_MS;
    }
  });
});
