// The engine reuses one convex-test accessor per caller (identity, rejected
// token, IP, user agent) across requests (local/engine.ts `accessor()`).
// Played as an attacker: no request may run as another caller's identity or
// with another caller's request metadata, whatever came before it, whatever
// is in flight beside it, and however many callers went through the cache.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { fetchFrom } from "../helpers/sourceAddress";

const api = anyApi;
const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture", "convex");

let b: SpawnedBackend;
let key: CryptoKey;

beforeAll(async () => {
  const e = await generateKeyPair("ES256", { extractable: true });
  key = e.privateKey;
  const jwk = { ...(await exportJWK(e.publicKey)), kid: "es-1", alg: "ES256" };
  b = await spawnBackend({
    convexDir: fixtureDir,
    env: {
      FIXTURE_ES_JWKS_B64: Buffer.from(JSON.stringify({ keys: [jwk] })).toString("base64"),
      FIXTURE_RS_JWKS: JSON.stringify({ keys: [] }),
    },
  });
});
afterAll(async () => {
  await b?.stop();
});

const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: "es-1" })
    .setIssuer("https://issuer.test")
    .setAudience("fixture-app")
    .setExpirationTime("1h")
    .sign(key);

type Seen = { subject: string | null; ip: string | null; userAgent: string | null; requestId: string };

/** fixture:seenBy over POST /api/mutation, as `userAgent`, with `jwt` when given, from source address `from`. */
async function seenBy(userAgent: string, jwt?: string, from = "127.0.0.1"): Promise<Seen> {
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": userAgent };
  if (jwt) headers.authorization = `Bearer ${jwt}`;
  const res = await fetchFrom(from)(`${b.url}/api/mutation`, {
    method: "POST",
    headers,
    body: JSON.stringify({ path: "fixture:seenBy", args: [{}], format: "convex_encoded_json" }),
  });
  const body = (await res.json()) as { status: string; value: Seen };
  expect(body.status).toBe("success");
  return body.value;
}

/** Calls `release` until `n` held functions have been let go (they may not all be held yet). */
async function releaseAll(n: number) {
  const http = b.httpClient();
  let released = 0;
  while (released < n) {
    released += (await http.action(api.fixture.release, {})) as number;
    if (released < n) await new Promise((r) => setTimeout(r, 20));
  }
}

/** A sync-protocol client whose socket sends `userAgent`. */
function clientAs(userAgent: string): ConvexClient {
  class Ws extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers: { "user-agent": userAgent } });
    }
  }
  return new ConvexClient(b.url, { webSocketConstructor: Ws as unknown as typeof globalThis.WebSocket, unsavedChangesWarning: false });
}

describe("one accessor per caller, reused across requests", () => {
  test("interleaved callers that share an identity, a user agent or nothing each see only their own", async () => {
    const alice = await token({ sub: "alice", roles: ["reader"] });
    const bob = await token({ sub: "bob", roles: ["reader"] });
    // Same claims in another order: a different cache entry, the same identity.
    const aliceReordered = await token({ roles: ["reader"], sub: "alice" });
    const callers: Array<{ ua: string; jwt?: string; subject: string | null; ip?: string }> = [
      { ua: "ua-1", jwt: alice, subject: "alice" },
      { ua: "ua-1", jwt: alice, subject: "alice", ip: "127.0.0.2" }, // same identity and user agent, another IP
      { ua: "ua-2", jwt: alice, subject: "alice" }, // same identity, another user agent
      { ua: "ua-1", jwt: bob, subject: "bob" }, // same user agent, another identity
      { ua: "ua-1", subject: null }, // same user agent, no identity
      { ua: "ua-1", jwt: aliceReordered, subject: "alice" },
      { ua: "", jwt: bob, subject: "bob" }, // an empty user agent is not "none"
    ];
    const requestIds = new Set<string>();
    for (let round = 0; round < 3; round++) {
      for (const c of round === 1 ? [...callers].reverse() : callers) {
        const seen = await seenBy(c.ua, c.jwt, c.ip);
        expect({ subject: seen.subject, ip: seen.ip, userAgent: seen.userAgent }).toEqual({ subject: c.subject, ip: c.ip ?? "127.0.0.1", userAgent: c.ua });
        requestIds.add(seen.requestId);
      }
    }
    // Every call is its own request, though most reused an accessor.
    expect(requestIds.size).toBe(callers.length * 3);
  });

  test("callers in flight at once (HTTP API, sync socket, HTTP actions) each see their own identity and metadata", async () => {
    const [alice, bob, carol] = await Promise.all([token({ sub: "alice" }), token({ sub: "bob" }), token({ sub: "carol" })]);
    const viaApi = (ua: string, jwt: string) =>
      fetch(`${b.url}/api/action`, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": ua, authorization: `Bearer ${jwt}` },
        body: JSON.stringify({ path: "fixture:seenByHeld", args: [{}], format: "convex_encoded_json" }),
      }).then(async (r) => ((await r.json()) as { value: unknown }).value);
    const viaSite = (ua: string, authorization?: string) =>
      fetch(`${b.siteUrl}/seen-held`, { headers: { "user-agent": ua, ...(authorization ? { authorization } : {}) } }).then((r) => r.json());
    const ws1 = clientAs("ws-agent-1");
    const ws2 = clientAs("ws-agent-2");
    ws1.setAuth(async () => alice);
    ws2.setAuth(async () => bob);
    try {
      const calls = [
        viaApi("api-agent-1", alice),
        viaApi("api-agent-2", bob),
        viaApi("api-agent-1", bob),
        ws1.action(api.fixture.seenByHeld, {}),
        ws2.action(api.fixture.seenByHeld, {}),
        viaSite("site-agent-1", `Bearer ${carol}`),
        viaSite("site-agent-1", "Bearer not-a-token"), // rejected: getUserIdentity() throws
        viaSite("site-agent-1"),
        viaSite("site-agent-2", `Bearer ${alice}`),
      ];
      await releaseAll(calls.length);
      const out = (await Promise.all(calls)) as Array<Seen & { inMutation: string | null; thrown?: boolean }>;
      const pick = (s: Seen & { inMutation: string | null; thrown?: boolean }) => [s.subject, s.inMutation, s.userAgent, s.thrown ?? false];
      expect(out.map(pick)).toEqual([
        ["alice", "alice", "api-agent-1", false],
        ["bob", "bob", "api-agent-2", false],
        ["bob", "bob", "api-agent-1", false],
        ["alice", "alice", "ws-agent-1", false],
        ["bob", "bob", "ws-agent-2", false],
        ["carol", "carol", "site-agent-1", false],
        [null, null, "site-agent-1", true],
        [null, null, "site-agent-1", false],
        ["alice", "alice", "site-agent-2", false],
      ]);
      expect(new Set(out.map((s) => s.requestId)).size).toBe(calls.length);
    } finally {
      await Promise.all([ws1.close(), ws2.close()]);
    }
  });

  test("the sync socket re-authenticating mid-session: the next call runs as the new identity, then as nobody", async () => {
    const [alice, bob] = await Promise.all([token({ sub: "alice" }), token({ sub: "bob" })]);
    const ws = clientAs("reauth-agent");
    try {
      const seen: Array<string | null> = [];
      ws.onUpdate(api.fixture.whoami, {}, (id: { subject: string } | null) => seen.push(id?.subject ?? null));
      const until = async (subject: string | null) => {
        while (seen.at(-1) !== subject) await new Promise((r) => setTimeout(r, 20));
      };
      const mutate = async () => ((await ws.mutation(api.fixture.seenBy, {})) as Seen).subject;
      ws.setAuth(async () => alice);
      await until("alice");
      expect(await mutate()).toBe("alice");
      ws.setAuth(async () => bob); // an Authenticate message on the same socket
      await until("bob");
      expect(await mutate()).toBe("bob");
      ws.setAuth(async () => alice);
      await until("alice");
      expect(await mutate()).toBe("alice");
      ws.client.clearAuth();
      await until(null);
      expect(await mutate()).toBeNull();
    } finally {
      await ws.close();
    }
  });

  // A nested claim becomes dotted keys (`__proto__.admin`), as on Convex (fixture.test.ts).
  test("custom claims named like Object.prototype members (`__proto__`, `constructor`, `toString`) pass through as themselves", async () => {
    const claims = JSON.parse('{"sub":"proto-user","__proto__":{"admin":true},"constructor":"c","toString":"t"}') as Record<string, unknown>;
    const plain = await token({ sub: "proto-user" });
    const odd = await token(claims);
    for (let i = 0; i < 2; i++) {
      expect(await b.httpClient(odd).query(api.fixture.identityKeys, {})).toEqual({
        keys: ["tokenIdentifier", "issuer", "subject", "__proto__.admin", "constructor", "toString"],
        inheritsAdmin: false,
      });
      // The same subject without those claims is another caller: it does not get them.
      const keys = ((await b.httpClient(plain).query(api.fixture.identityKeys, {})) as { keys: string[] }).keys;
      expect(keys.filter((k) => ["__proto__.admin", "constructor", "toString"].includes(k) || k.includes("native code"))).toEqual([]);
    }
  });

  test("past the cache's bound (1000 callers) the oldest callers are still served as themselves", async () => {
    const alice = await token({ sub: "alice" });
    const first = await seenBy("evicted-0", alice);
    // 1100 distinct callers (user agents), 20 at a time.
    for (let i = 1; i <= 1100; i += 20) {
      const batch = Array.from({ length: 20 }, (_, j) => `evicted-${i + j}`);
      const seen = await Promise.all(batch.map((ua) => seenBy(ua, alice)));
      expect(seen.map((s) => s.userAgent)).toEqual(batch);
    }
    const again = await seenBy("evicted-0", alice);
    expect({ subject: again.subject, userAgent: again.userAgent }).toEqual({ subject: "alice", userAgent: "evicted-0" });
    expect(again.requestId).not.toBe(first.requestId);
  });
});
