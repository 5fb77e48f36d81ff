// Tokens Convex rejects, on keyhole's HTTP API and /mcp. On Convex an HTTP
// action with such a bearer token still runs and ctx.auth.getUserIdentity()
// throws; the embedded backend does the same (local/rejected.ts, pinned in
// test/local/fixture.test.ts). The guard must turn that into keyhole's 401 —
// same body as any invalid credential, the failure counted and audited — not
// a 500 (MCP clients only re-authenticate on 401).
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { call, forgeToken, signUp, signWithBackendKey } from "./helpers";

let b: SpawnedBackend;
let aliceJwt: string;
let pat: { token: string; tokenId: string };

beforeAll(async () => {
  b = await spawnBackend();
  aliceJwt = await signUp(b, "alice@example.com");
  pat = await b.httpClient(aliceJwt).mutation(api.auth.createApiToken, { name: "rejected-tests", scopes: [] });
});
afterAll(async () => {
  await b?.stop();
});

/** A well-formed JWT from an issuer this deployment does not trust. */
async function foreignToken(): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return await new SignJWT({ kind: "pat" })
    .setProtectedHeader({ alg: "ES256", kid: (await exportJWK(publicKey)).x!.slice(0, 8) })
    .setIssuer("https://attacker.example")
    .setSubject(`pat:${pat.tokenId}`)
    .setAudience("keyhole")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
}

async function rejected(): Promise<Record<string, string>> {
  const now = Math.floor(Date.now() / 1000);
  return {
    garbage: "not-a-jwt",
    expired: await signWithBackendKey(b, { kind: "pat", id: pat.tokenId, exp: now - 30 }),
    foreign: await foreignToken(),
    wrongKey: await forgeToken(b, pat.tokenId),
  };
}

test("Convex's own endpoint refuses them: ConvexHttpClient gets Unauthenticated", async () => {
  for (const [what, token] of Object.entries(await rejected())) {
    await expect(b.httpClient(token).query(api.orgs.listMine, {}), what).rejects.toThrow(/Unauthenticated/);
  }
});

test("garbage, expired, foreign and wrong-key tokens → 401 on /api/*, same body, no server error", async () => {
  const challenges = new Set<string | null>();
  for (const [what, token] of Object.entries(await rejected())) {
    const r = await call(b, "GET", "/api/whoami", { token });
    expect({ what, status: r.status, body: r.json }).toEqual({
      what,
      status: 401,
      body: { error: { code: "unauthenticated", message: "invalid or expired token" } },
    });
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer realm="keyhole", error="invalid_token"/);
    challenges.add(r.headers.get("www-authenticate"));
  }
  expect(challenges.size).toBe(1); // one challenge whatever was wrong with the token
  expect(b.logs()).not.toMatch(/http action .*api\/whoami/);
});

test("… and on /mcp: 401 / −32001 with the resource metadata challenge", async () => {
  const headers = { Accept: "application/json, text/event-stream", "Content-Type": "application/json" };
  for (const [what, token] of Object.entries(await rejected())) {
    const r = await call(b, "POST", "/mcp", { token, headers, body: { jsonrpc: "2.0", id: 3, method: "tools/list", params: {} } });
    expect({ what, status: r.status, body: r.json }).toEqual({
      what,
      status: 401,
      body: { jsonrpc: "2.0", id: 3, error: { code: -32001, message: "invalid or expired token" } },
    });
    expect(r.headers.get("www-authenticate")).toContain("resource_metadata=");
  }
  expect(b.logs()).not.toMatch(/http action .*\/mcp/);
});

test("the failure is counted and audited for the token's owner", async () => {
  const before = await b.httpClient(aliceJwt).query(api.audit.list, { paginationOpts: { numItems: 100, cursor: null } });
  const count = (page: typeof before.page) => page.filter((e) => e.action === "auth.failed" && e.targetId === pat.tokenId).length;
  const expired = await signWithBackendKey(b, { kind: "pat", id: pat.tokenId, exp: Math.floor(Date.now() / 1000) - 30 });
  expect((await call(b, "GET", "/api/whoami", { token: expired })).status).toBe(401);
  const after = await b.httpClient(aliceJwt).query(api.audit.list, { paginationOpts: { numItems: 100, cursor: null } });
  expect(count(after.page)).toBe(count(before.page) + 1);
  const event = after.page.find((e) => e.action === "auth.failed" && e.targetId === pat.tokenId)!;
  expect(event.details).toContain("reason=expired");
  expect(event.ip).toBe("127.0.0.1");
});
