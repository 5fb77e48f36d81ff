// 429s end to end, on a backend of their own (the limits are per IP and all
// test requests come from 127.0.0.1): leak reports per IP, failed
// authentications per token and per IP, token creation per person. A valid
// token is never blocked by anyone's failures. Tests run in order.
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { LIMITS } from "../../convex/model/rateLimit";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { call, signUp } from "./helpers";

let b: SpawnedBackend;
let aliceJwt: string;
let valid: { token: string; tokenId: string };

beforeAll(async () => {
  b = await spawnBackend();
  aliceJwt = await signUp(b, "alice@example.com");
  valid = await b.httpClient(aliceJwt).mutation(api.auth.createApiToken, { name: "valid", scopes: [] });
});

afterAll(async () => {
  await b?.stop();
});

function expectRetryAfter(r: { headers: Headers }, maxSeconds = 60) {
  const s = Number(r.headers.get("retry-after"));
  expect(Number.isInteger(s)).toBe(true);
  expect(s).toBeGreaterThanOrEqual(1);
  expect(s).toBeLessThanOrEqual(maxSeconds);
}

test("leak reports are limited per IP: 429 with Retry-After", async () => {
  for (let i = 0; i < LIMITS.leakReportPerIp.max; i++) {
    const r = await call(b, "POST", "/api/tokens/revoke-leaked", { body: { token: `garbage-${i}` } });
    expect(r.status).toBe(202);
  }
  const over = await call(b, "POST", "/api/tokens/revoke-leaked", { body: { token: valid.token } });
  expect(over.status).toBe(429);
  expect(over.json.error.code).toBe("rate_limited");
  expectRetryAfter(over);
  // the refused report did nothing
  expect((await call(b, "GET", "/api/whoami", { token: valid.token })).status).toBe(200);
});

test("a revoked token that keeps trying is limited per token id, and its owner's audit log stays bounded", async () => {
  const alice = b.httpClient(aliceJwt);
  const t = await alice.mutation(api.auth.createApiToken, { name: "revoked", scopes: [] });
  // Used first, so its next requests take the read-only check (guard.ts, query first).
  expect((await call(b, "GET", "/api/whoami", { token: t.token })).status).toBe(200);
  expect((await call(b, "GET", "/api/whoami", { token: t.token })).status).toBe(200);
  await alice.mutation(api.auth.revokeApiToken, { tokenId: t.tokenId });
  for (let i = 0; i < LIMITS.authFailPerToken.max; i++) {
    expect((await call(b, "GET", "/api/whoami", { token: t.token })).status).toBe(401);
  }
  const over = await call(b, "GET", "/api/whoami", { token: t.token });
  expect(over.status).toBe(429);
  expectRetryAfter(over);
  // the MCP endpoint answers the same way
  const mcp = await call(b, "POST", "/mcp", {
    token: t.token,
    body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
    headers: { Accept: "application/json, text/event-stream" },
  });
  expect(mcp.status).toBe(429);
  expect(mcp.json.error.code).toBe(-32001);

  // the valid token from the same address is untouched
  expect((await call(b, "GET", "/api/whoami", { token: valid.token })).status).toBe(200);
  const log = await alice.query(api.audit.list, { paginationOpts: { numItems: 100, cursor: null } });
  const used = log.page.filter((e) => e.action === "token.used_after_revoke" && e.targetId === t.tokenId);
  expect(used).toHaveLength(LIMITS.authFailPerToken.max);
});

test("token creation over the per-person limit → 429 with Retry-After", async () => {
  let status = 0;
  let last;
  for (let i = 0; i <= LIMITS.tokenCreate.max && status !== 429; i++) {
    last = await call(b, "POST", "/api/pats", { token: aliceJwt, body: { name: `bulk-${i}`, scopes: [] } });
    status = last.status;
    if (status !== 429) expect(status).toBe(201);
  }
  expect(status).toBe(429);
  expect(last!.json.error.code).toBe("rate_limited");
  expectRetryAfter(last!, LIMITS.tokenCreate.windowMs / 1000);
});

test("failed authentications are limited per IP; valid tokens still pass", async () => {
  const statuses: number[] = [];
  for (let i = 0; i <= LIMITS.authFailPerIp.max + 1 && statuses.at(-1) !== 429; i++) {
    statuses.push((await call(b, "GET", "/api/whoami", { token: `garbage-${i}` })).status);
  }
  expect(statuses.at(-1)).toBe(429);
  expect(new Set(statuses.slice(0, -1))).toEqual(new Set([401]));
  // ≤ max failures counted from this address in the window (some came from the earlier tests)
  expect(statuses.length).toBeLessThanOrEqual(LIMITS.authFailPerIp.max + 1);
  const over = await call(b, "GET", "/api/whoami", { token: "garbage-again" });
  expect(over.status).toBe(429);
  expectRetryAfter(over);
  expect(over.json.error.code).toBe("rate_limited");

  // someone else's failures never block a valid credential
  expect((await call(b, "GET", "/api/whoami", { token: valid.token })).status).toBe(200);
  expect((await call(b, "GET", "/api/whoami", { token: aliceJwt })).status).toBe(200);
});
