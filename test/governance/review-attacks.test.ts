// Review of issue 16, playing the attacker against a real backend
// (ConvexHttpClient and real HTTP):
//  - a regenerated PAT must be bound to the one token signed for it, like any
//    PAT (model/keyTrust.ts): whoever holds a signing key that the JWKS still
//    publishes must not be able to mint a token for the regenerated record;
//  - a webhook URL must not reach loopback or internal names through a
//    trailing dot ("localhost." is localhost to every resolver);
//  - an org's maxLifetimeDays caps agent sessions minted by a person (or an
//    OAuth client) by their family's lifetime — the refresh token keeps the
//    credential alive that long — not by one access token's hours.
import type { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { WEBHOOK_TEST_LIMIT } from "../../convex/model/governance/webhooks";
import { codeOf } from "../helpers/errors";
import { call, signUp, signWithBackendKey } from "../http/helpers";

let b: SpawnedBackend;
let alice: ConvexHttpClient;
const read = { workspace: "acme/site", name: "notes" };

beforeAll(async () => {
  // No KEYHOLE_WEBHOOK_ALLOW_PRIVATE: the production rules for webhook URLs.
  b = await spawnBackend();
  alice = b.httpClient(await signUp(b, "alice@acme.test"));
  await alice.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  await alice.mutation(api.items.put, { ...read, data: "hello" });
}, 60_000);

afterAll(async () => {
  await b?.stop();
});

describe("regenerateApiToken keeps the token binding", () => {
  test("a token signed with the deployment's key but not for the regenerated record is refused", async () => {
    const old = await alice.mutation(api.auth.createApiToken, { name: "deploy", scopes: [] });
    const r = await alice.mutation(api.auth.regenerateApiToken, { tokenId: old.tokenId });
    // The real new secret works.
    expect((await call(b, "GET", "/api/whoami", { token: r.token })).status).toBe(200);
    // A forger with the signing key (a retired key stays in the JWKS for a
    // year) signs a token for the new record without its binding claim.
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const forgedNew = await signWithBackendKey(b, { kind: "pat", id: r.tokenId, exp });
    const forgedOld = await signWithBackendKey(b, { kind: "pat", id: old.tokenId, exp });
    expect((await call(b, "GET", "/api/whoami", { token: forgedOld })).status).toBe(401); // baseline: a created PAT is bound
    expect((await call(b, "GET", "/api/whoami", { token: forgedNew })).status).toBe(401);
  });
});

describe("webhook URLs: no loopback or internal names through a trailing dot", () => {
  for (const url of [
    "https://localhost./hook",
    "https://api.localhost./hook",
    "https://metadata.google.internal./computeMetadata/v1/",
    "https://printer.local./hook",
    "https://127.0.0.1./hook",
  ]) {
    test(url, async () => {
      expect(await codeOf(alice.mutation(api.webhooks.create, { url, eventTypes: ["token.revoked"] }))).toBe(
        "invalid_argument",
      );
    });
  }

  test("a public name still registers (baseline)", async () => {
    const r = await alice.mutation(api.webhooks.create, { url: "https://hooks.example.com/k", eventTypes: ["token.revoked"] });
    expect(r.secret).toMatch(/^whsec_/);
    await alice.mutation(api.webhooks.remove, { endpointId: r.endpointId });
  });
});

describe("maxLifetimeDays and agent sessions a person mints (no parent PAT)", () => {
  test("a session family that refreshes for 30 days is refused under a 7-day cap", async () => {
    const s = await alice.mutation(api.auth.createSession, { agentId: "long-lived", ttl: 3600 });
    const agent = b.httpClient(s.token);
    expect(await codeOf(agent.query(api.items.get, read))).toBe("ok");
    await alice.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 7 } });
    try {
      expect(await codeOf(agent.query(api.items.get, read))).toBe("forbidden");
      // The person is not bound by token policy.
      expect(await codeOf(alice.query(api.items.get, read))).toBe("ok");
    } finally {
      await alice.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: null } });
    }
    expect(await codeOf(agent.query(api.items.get, read))).toBe("ok");
  });
});

describe("e-mail lookalikes cannot become a second account", () => {
  // Each displays as bob@corp.test in member lists, invitation lists and the
  // org token view; none may become an account other than Bob's.
  const lookalikes = {
    zeroWidthSpace: "bob@corp.test\u200b",
    softHyphen: "b\u00adob@corp.test",
    fullwidth: "\uff42\uff4f\uff42@corp.test",
    bidiOverride: "\u202ebob@corp.test",
  };

  test("each is refused or lands in the one account", async () => {
    const bob = await signUp(b, "bob@corp.test");
    const bobId = (await b.httpClient(bob).query(api.users.me, {})).userId;
    for (const [what, email] of Object.entries(lookalikes)) {
      const params = { email, password: "the squatter's password", flow: "signUp" };
      let userId: string | null = null;
      try {
        const res = (await b.httpClient().action(api.auth.signIn, { provider: "password", params })) as {
          tokens?: { token: string } | null;
        };
        if (res.tokens?.token) userId = (await b.httpClient(res.tokens.token).query(api.users.me, {})).userId;
      } catch {
        userId = null; // refused (malformed, or the account exists)
      }
      expect({ what, second: userId !== null && userId !== bobId }).toEqual({ what, second: false });
    }
  });
});

describe("allowMcpClients off: /mcp refuses every token for the org, whatever type it was created with", () => {
  const headers = { Accept: "application/json, text/event-stream", "Content-Type": "application/json" };
  const getItem = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "get_item", arguments: read } };
  const listWs = { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "list_workspaces", arguments: {} } };

  test("a token typed PAT used by an MCP client at /mcp cannot read the org; the HTTP API still can", async () => {
    const pat = await alice.mutation(api.auth.createApiToken, { name: "typed-pat-at-mcp", scopes: [], type: "PAT" });
    const before = await call(b, "POST", "/mcp", { token: pat.token, headers, body: getItem });
    expect(before.text).toContain("hello"); // baseline: MCP allowed
    await alice.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { allowMcpClients: false } });
    try {
      const r = await call(b, "POST", "/mcp", { token: pat.token, headers, body: getItem });
      expect(r.text).not.toContain("hello");
      expect(r.text).toMatch(/allowMcpClients/);
      const ws = await call(b, "POST", "/mcp", { token: pat.token, headers, body: listWs });
      expect(ws.status).toBe(200);
      expect(ws.text).not.toContain("site"); // the org's workspaces are left out
      // The policy is about MCP clients: the same token on the HTTP API still works.
      const api_ = await call(b, "GET", "/api/workspaces/acme/site/items/notes", { token: pat.token });
      expect(api_.status).toBe(200);
    } finally {
      await alice.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { allowMcpClients: true } });
    }
  });
});

describe("webhooks:sendTest is not a request cannon", () => {
  test("a person's test deliveries are rate limited (each one is an outbound POST with up to 8 attempts)", async () => {
    const r = await alice.mutation(api.webhooks.create, { url: "https://hooks.example.com/cannon", eventTypes: ["token.revoked"] });
    try {
      const codes: string[] = [];
      for (let i = 0; i < WEBHOOK_TEST_LIMIT.max + 1; i++) codes.push(await codeOf(alice.mutation(api.webhooks.sendTest, { endpointId: r.endpointId })));
      expect(codes.slice(0, WEBHOOK_TEST_LIMIT.max).every((c) => c === "ok")).toBe(true);
      expect(codes[WEBHOOK_TEST_LIMIT.max]).toBe("rate_limited");
    } finally {
      await alice.mutation(api.webhooks.remove, { endpointId: r.endpointId });
    }
  });
});
