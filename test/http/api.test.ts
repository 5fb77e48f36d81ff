// The HTTP API end to end: plain fetch against the embedded backend's site
// port, every status path of convex/model/http/api.ts. Rate limits (429) are
// in limits.test.ts, on their own backend, so this file's few failed
// authentications never reach a limit.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { backendEnv, call, forgeToken, signUp, signWithBackendKey } from "./helpers";

let b: SpawnedBackend;
let aliceJwt: string; // an interactive sign-in (web session)
let bobJwt: string;
let readPat: { token: string; tokenId: string }; // acme/site=work:read
let rwPat: { token: string; tokenId: string }; // acme/site read+write, Signal/* only
let fullPat: { token: string; tokenId: string }; // full role

const INVALID_BODY = { error: { code: "unauthenticated", message: "invalid or expired token" } };
/** What every API 401 names: where the resource metadata is, and the scopes to ask for. */
const challengeParams = () =>
  `resource_metadata="${b.siteUrl}/.well-known/oauth-protected-resource/api", scope="workspace:read work:read work:write"`;
const invalidChallenge = () => `Bearer realm="keyhole", error="invalid_token", ${challengeParams()}`;

beforeAll(async () => {
  b = await spawnBackend();
  aliceJwt = await signUp(b, "alice@example.com");
  bobJwt = await signUp(b, "bob@example.com");
  const alice = b.httpClient(aliceJwt);
  await alice.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "ops", name: "Ops" });
  readPat = await alice.mutation(api.auth.createApiToken, { name: "reader", scopes: ["acme/site=work:read"] });
  rwPat = await alice.mutation(api.auth.createApiToken, {
    name: "writer",
    scopes: [{ resource: "acme/site", permissions: ["work:read", "work:write"], allowedMatches: ["Signal/*"] }],
  });
  fullPat = await alice.mutation(api.auth.createApiToken, { name: "full", scopes: [] });
});

afterAll(async () => {
  await b?.stop();
});

describe("authentication", () => {
  test("GET /api/whoami answers who the credential is, for a sign-in and for a PAT", async () => {
    const me = await call(b, "GET", "/api/whoami", { token: aliceJwt });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ kind: "user", email: "alice@example.com" });

    const pat = await call(b, "GET", "/api/whoami", { token: readPat.token });
    expect(pat.status).toBe(200);
    expect(pat.json).toMatchObject({
      kind: "pat",
      email: "alice@example.com",
      tokenId: readPat.tokenId,
      tokenName: "reader",
      scopes: [{ resource: "acme/site", permissions: ["work:read"] }],
    });
    expect(pat.headers.get("cache-control")).toBe("no-store");
  });

  test("no credential → 401 with a Bearer challenge naming the resource metadata and scopes (RFC 9728)", async () => {
    const r = await call(b, "GET", "/api/whoami");
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe("unauthenticated");
    expect(r.headers.get("www-authenticate")).toBe(`Bearer realm="keyhole", ${challengeParams()}`);
  });

  test("garbage, forged, unknown, expired and revoked tokens all get the same 401", async () => {
    const alice = b.httpClient(aliceJwt);
    const doomed = await alice.mutation(api.auth.createApiToken, { name: "doomed", scopes: [] });
    expect((await call(b, "GET", "/api/whoami", { token: doomed.token })).status).toBe(200);
    await alice.mutation(api.auth.revokeApiToken, { tokenId: doomed.tokenId });

    const now = Math.floor(Date.now() / 1000);
    const presented = {
      garbage: "not-a-token",
      forged: await forgeToken(b, fullPat.tokenId),
      // signed by the backend's key, for a record that does not exist
      unknown: await signWithBackendKey(b, { kind: "pat", id: "doesnotexist", exp: now + 3600 }),
      // the real PAT's id, but the JWT has expired
      expired: await signWithBackendKey(b, { kind: "pat", id: fullPat.tokenId, exp: now - 10 }),
      revoked: doomed.token,
      wrongScheme: null,
    };
    for (const [what, token] of Object.entries(presented)) {
      const r =
        token === null
          ? await call(b, "GET", "/api/whoami", { headers: { Authorization: `Basic ${btoa("a:b")}` } })
          : await call(b, "GET", "/api/whoami", { token });
      expect({ what, status: r.status }).toEqual({ what, status: 401 });
      expect(r.json).toEqual(INVALID_BODY);
      expect(r.headers.get("www-authenticate")).toBe(invalidChallenge());
    }
  });

  test("a revoked PAT's use is audited for its owner; last use is recorded with IP and user agent", async () => {
    const alice = b.httpClient(aliceJwt);
    const t = await alice.mutation(api.auth.createApiToken, { name: "tracked", scopes: [] });
    const ok = await call(b, "GET", "/api/whoami", { token: t.token, headers: { "User-Agent": "keyhole-test/1.0" } });
    expect(ok.status).toBe(200);
    const details = await alice.query(api.auth.getApiToken, { tokenId: t.tokenId });
    expect(details.lastUsedAt).toBeGreaterThan(0);
    expect(details.lastUsedIp).toBe("127.0.0.1");
    expect(details.lastUsedUserAgent).toBe("keyhole-test/1.0");

    await alice.mutation(api.auth.revokeApiToken, { tokenId: t.tokenId });
    expect((await call(b, "GET", "/api/whoami", { token: t.token })).status).toBe(401);
    const log = await alice.query(api.audit.list, { paginationOpts: { numItems: 20, cursor: null } });
    const used = log.page.find((e) => e.action === "token.used_after_revoke" && e.targetId === t.tokenId);
    expect(used).toBeDefined();
    expect(used!.ip).toBe("127.0.0.1");
    // the audit trail never holds the token text
    expect(JSON.stringify(log.page)).not.toContain(t.token);
  });

  test("a token in the query string is refused with 400 and never logged", async () => {
    const urls = [
      `/api/whoami?token=${encodeURIComponent(fullPat.token)}`,
      `/api/whoami?access_token=${encodeURIComponent(fullPat.token)}`,
      `/api/whoami?q=${encodeURIComponent(fullPat.token)}`,
      `/api/workspaces/acme/site/items?cursor=${encodeURIComponent(fullPat.token)}`,
      `/mcp?access_token=${encodeURIComponent(fullPat.token)}`,
    ];
    for (const u of urls) {
      const r = await call(b, "GET", u, { token: fullPat.token });
      expect({ u, status: r.status }).toEqual({ u, status: 400 });
      expect(r.text).not.toContain(fullPat.token);
    }
    // even with a valid header, a URL credential is refused (not silently used or ignored)
    const plain = await call(b, "GET", "/api/whoami?token=abc");
    expect(plain.status).toBe(400);
    expect(plain.json.error.code).toBe("invalid_argument");
    expect(b.logs()).not.toContain(fullPat.token);
    expect(b.logs()).not.toContain(fullPat.token.split(".")[2]);
  });
});

describe("PATs over HTTP", () => {
  test("list, create, get and revoke by name with an interactive sign-in", async () => {
    const created = await call(b, "POST", "/api/pats", {
      token: aliceJwt,
      body: { name: "deploy", scopes: ["acme/site=work:read"], expiresIn: 3600, description: "CI deploys" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: "deploy", scopes: [{ resource: "acme/site", permissions: ["work:read"] }] });
    const token = created.json.token as string;
    expect((await call(b, "GET", "/api/whoami", { token })).json.tokenName).toBe("deploy");

    const list = await call(b, "GET", "/api/pats?status=active", { token: aliceJwt });
    expect(list.status).toBe(200);
    expect(list.json.tokens.map((t: { name: string }) => t.name)).toContain("deploy");
    expect(list.text).not.toContain(token);

    const got = await call(b, "GET", "/api/pats/deploy", { token: aliceJwt });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ name: "deploy", status: "active", description: "CI deploys" });
    expect(got.json.lastUsedIp).toBe("127.0.0.1");

    const revoked = await call(b, "DELETE", "/api/pats/deploy", { token: aliceJwt });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ changed: true });
    expect((await call(b, "GET", "/api/whoami", { token })).status).toBe(401);
    expect((await call(b, "GET", "/api/pats/deploy", { token: aliceJwt })).json.status).toBe("revoked");
    // nothing active by that name any more
    expect((await call(b, "DELETE", "/api/pats/deploy", { token: aliceJwt })).status).toBe(404);
  });

  test("a PAT (even a full-role one) gets 403 insufficient_scope on every /api/pats route", async () => {
    for (const [method, p, body] of [
      ["GET", "/api/pats", undefined],
      ["POST", "/api/pats", { name: "sneaky", scopes: [] }],
      ["GET", "/api/pats/full", undefined],
      ["DELETE", "/api/pats/reader", undefined],
    ] as const) {
      const r = await call(b, method, p, { token: fullPat.token, body });
      expect({ method, p, status: r.status }).toEqual({ method, p, status: 403 });
      expect(r.json.error.code).toBe("forbidden");
      expect(r.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    }
    // the PAT it tried to revoke still works
    expect((await call(b, "GET", "/api/whoami", { token: readPat.token })).status).toBe(200);
  });

  test("400 malformed body, 400 invalid fields, 409 duplicate name, 404 unknown name", async () => {
    const bad = await call(b, "POST", "/api/pats", { token: aliceJwt, body: "{not json" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("invalid_argument");

    const missing = await call(b, "POST", "/api/pats", { token: aliceJwt, body: { scopes: [] } });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toContain("name");

    const extra = await call(b, "POST", "/api/pats", { token: aliceJwt, body: { name: "x", admin: true } });
    expect(extra.status).toBe(400);

    const badScope = await call(b, "POST", "/api/pats", { token: aliceJwt, body: { name: "x", scopes: ["acme=fly"] } });
    expect(badScope.status).toBe(400);
    expect(badScope.json.error.message).toContain("unknown permission");

    const dup = await call(b, "POST", "/api/pats", { token: aliceJwt, body: { name: "reader", scopes: [] } });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe("conflict");

    expect((await call(b, "GET", "/api/pats/nope", { token: aliceJwt })).status).toBe(404);
  });
});

describe("agent sessions over HTTP", () => {
  test("create from a PAT, use, refresh (both ways), end", async () => {
    const created = await call(b, "POST", "/api/sessions", {
      token: rwPat.token,
      body: { agentId: "builder", ttl: 600, metadata: { run: 7 } },
    });
    expect(created.status).toBe(201);
    const s1 = created.json as { token: string; refreshToken: string; sessionId: string };
    const who = await call(b, "GET", "/api/whoami", { token: s1.token });
    expect(who.json).toMatchObject({ kind: "agent", agentId: "builder", sessionId: s1.sessionId });
    // a child session carries its parent's scopes
    expect(who.json.parentScopes).toEqual([expect.objectContaining({ resource: "acme/site" })]);

    // refresh with the refresh token (no bearer needed)
    const r1 = await call(b, "POST", "/api/sessions/refresh", { body: { refreshToken: s1.refreshToken } });
    expect(r1.status).toBe(200);
    const s2 = r1.json as { token: string; refreshToken: string };
    expect((await call(b, "GET", "/api/whoami", { token: s1.token })).status).toBe(401);
    expect((await call(b, "GET", "/api/whoami", { token: s2.token })).status).toBe(200);

    // refresh with the current session token as the bearer: a session token only, no later expiry
    const r2 = await call(b, "POST", "/api/sessions/refresh", { token: s2.token, body: { ttl: 300 } });
    expect(r2.status).toBe(200);
    const s3 = r2.json as { token: string; refreshToken?: string; expiresAt: number };
    expect(s3.refreshToken).toBeUndefined();
    expect(s3.expiresAt).toBeLessThanOrEqual((r1.json as { expiresAt: number }).expiresAt);
    expect((await call(b, "GET", "/api/whoami", { token: s2.token })).status).toBe(401);
    expect((await call(b, "GET", "/api/whoami", { token: s3.token })).status).toBe(200);

    // a used refresh token is refused with 400 invalid_grant, and the whole family ends
    const replay = await call(b, "POST", "/api/sessions/refresh", { body: { refreshToken: s1.refreshToken } });
    expect(replay.status).toBe(400);
    expect(replay.json).toEqual({ error: { code: "invalid_grant", message: expect.stringContaining("already used") } });
    expect((await call(b, "GET", "/api/whoami", { token: s3.token })).status).toBe(401);
    // ... and so is the family's refresh token, and a spent session token
    expect((await call(b, "POST", "/api/sessions/refresh", { body: { refreshToken: s2.refreshToken } })).status).toBe(400);
    expect((await call(b, "POST", "/api/sessions/refresh", { token: s2.token, body: {} })).json).toMatchObject({
      error: { code: "invalid_grant" },
    });

    const s4 = (await call(b, "POST", "/api/sessions", { token: rwPat.token, body: { agentId: "other" } })).json;
    const ended = await call(b, "DELETE", "/api/sessions", { token: s4.token });
    expect(ended.status).toBe(200);
    expect(ended.json).toEqual({ ended: true, sessionId: s4.sessionId });
    expect((await call(b, "GET", "/api/whoami", { token: s4.token })).status).toBe(401);
  });

  test("POST /api/sessions without a credential → 401; DELETE with a PAT → 400", async () => {
    expect((await call(b, "POST", "/api/sessions", { body: { agentId: "x" } })).status).toBe(401);
    const r = await call(b, "DELETE", "/api/sessions", { token: readPat.token });
    expect(r.status).toBe(400);
    expect((await call(b, "GET", "/api/whoami", { token: readPat.token })).status).toBe(200);
  });
});

describe("items", () => {
  test("put, get, list and delete items whose names contain slashes", async () => {
    const put = await call(b, "PUT", "/api/workspaces/acme/site/items/Signal/temp-1", {
      token: rwPat.token,
      body: { data: { celsius: 21.5 } },
    });
    expect(put.status).toBe(200);
    expect(put.json.name).toBe("Signal/temp-1");
    // %2F-encoded slashes address the same item
    const got = await call(b, "GET", "/api/workspaces/acme/site/items/Signal%2Ftemp-1", { token: readPat.token });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ name: "Signal/temp-1", data: { celsius: 21.5 } });

    await call(b, "PUT", "/api/workspaces/acme/site/items/Signal/temp-2", { token: rwPat.token, body: { data: 2 } });
    const page1 = await call(b, "GET", "/api/workspaces/acme/site/items?limit=1", { token: readPat.token });
    expect(page1.status).toBe(200);
    expect(page1.json.items).toHaveLength(1);
    expect(page1.json.isDone).toBe(false);
    const page2 = await call(b, "GET", `/api/workspaces/acme/site/items?limit=1&cursor=${encodeURIComponent(page1.json.cursor)}`, {
      token: readPat.token,
    });
    expect(page2.json.items).toHaveLength(1);
    expect([page1.json.items[0].name, page2.json.items[0].name].sort()).toEqual(["Signal/temp-1", "Signal/temp-2"]);
    // a cursor that is not one this API handed out is bad input (400), not a server error
    const badCursor = await call(b, "GET", "/api/workspaces/acme/site/items?limit=1&cursor=not-a-cursor", { token: readPat.token });
    expect(badCursor.status).toBe(400);
    expect(badCursor.json.error.code).toBe("invalid_argument");

    const del = await call(b, "DELETE", "/api/workspaces/acme/site/items/Signal/temp-2", { token: rwPat.token });
    expect(del.status).toBe(200);
    expect((await call(b, "GET", "/api/workspaces/acme/site/items/Signal/temp-2", { token: readPat.token })).status).toBe(404);
    expect((await call(b, "DELETE", "/api/workspaces/acme/site/items/Signal/temp-2", { token: rwPat.token })).status).toBe(404);
  });

  test("scopes and allowedMatches are enforced: 403 insufficient_scope", async () => {
    // read-only token writes
    const w = await call(b, "PUT", "/api/workspaces/acme/site/items/Signal/x", { token: readPat.token, body: { data: 1 } });
    expect(w.status).toBe(403);
    expect(w.json.error.code).toBe("forbidden");
    expect(w.headers.get("www-authenticate")).toBe(
      `Bearer realm="keyhole", error="insufficient_scope", resource_metadata="${b.siteUrl}/.well-known/oauth-protected-resource/api", scope="work:write"`,
    );
    // a name outside allowedMatches ["Signal/*"]
    const outside = await call(b, "PUT", "/api/workspaces/acme/site/items/Config/db", { token: rwPat.token, body: { data: 1 } });
    expect(outside.status).toBe(403);
    // "*" stays within one segment
    const deep = await call(b, "PUT", "/api/workspaces/acme/site/items/Signal/a/b", { token: rwPat.token, body: { data: 1 } });
    expect(deep.status).toBe(403);
    // another workspace of the same org
    expect((await call(b, "GET", "/api/workspaces/acme/ops/items", { token: readPat.token })).status).toBe(403);
    // someone else's org
    expect((await call(b, "GET", "/api/workspaces/acme/site/items", { token: bobJwt })).status).toBe(403);
  });

  test("413 for a body over the limit; 400 for bad data; 404 and 405 for routes", async () => {
    const big = { data: "x".repeat(100 * 1024) };
    const r = await call(b, "PUT", "/api/workspaces/acme/site/items/Signal/big", { token: rwPat.token, body: big });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe("invalid_argument");

    expect((await call(b, "PUT", "/api/workspaces/acme/site/items/Signal/y", { token: rwPat.token, body: {} })).status).toBe(400);
    const dollar = await call(b, "PUT", "/api/workspaces/acme/site/items/Signal/y", { token: rwPat.token, body: { data: { $x: 1 } } });
    expect(dollar.status).toBe(400);

    const none = await call(b, "GET", "/api/nothing-here", { token: readPat.token });
    expect(none.status).toBe(404);
    expect(none.json.error.code).toBe("not_found");
    const wrong = await call(b, "PATCH", "/api/whoami", { token: readPat.token });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
  });
});

describe("introspection (RFC 7662)", () => {
  test("a token may introspect itself; a full-role credential may introspect the owner's others", async () => {
    const self = await call(b, "POST", "/api/tokens/introspect", { token: readPat.token, body: { token: readPat.token } });
    expect(self.status).toBe(200);
    expect(self.json).toMatchObject({
      active: true,
      token_type: "Bearer",
      kind: "pat",
      name: "reader",
      scope: "acme/site=work:read",
      sub: `pat:${readPat.tokenId}`,
      jti: readPat.tokenId,
      aud: "keyhole",
      iss: backendEnv(b).KEYHOLE_ISSUER,
      username: "alice@example.com",
    });
    expect(self.json.exp).toBeGreaterThan(Date.now() / 1000);

    // form-encoded, the RFC's own encoding
    const form = await call(b, "POST", "/api/tokens/introspect", {
      token: aliceJwt,
      body: new URLSearchParams({ token: rwPat.token, token_type_hint: "access_token" }).toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(form.json).toMatchObject({ active: true, name: "writer" });

    // another token without tokens:read → 403
    const other = await call(b, "POST", "/api/tokens/introspect", { token: readPat.token, body: { token: rwPat.token } });
    expect(other.status).toBe(403);
  });

  test("inactive tokens → exactly {active: false}", async () => {
    const alice = b.httpClient(aliceJwt);
    const gone = await alice.mutation(api.auth.createApiToken, { name: "gone", scopes: [] });
    await alice.mutation(api.auth.revokeApiToken, { tokenId: gone.tokenId });
    const bobPat = await b.httpClient(bobJwt).mutation(api.auth.createApiToken, { name: "bobs", scopes: [] });
    const now = Math.floor(Date.now() / 1000);
    for (const token of [
      gone.token, // revoked
      bobPat.token, // someone else's
      "garbage",
      await forgeToken(b, fullPat.tokenId),
      await signWithBackendKey(b, { kind: "pat", id: fullPat.tokenId, exp: now - 5 }), // expired JWT
    ]) {
      const r = await call(b, "POST", "/api/tokens/introspect", { token: fullPat.token, body: { token } });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ active: false });
    }
    expect((await call(b, "POST", "/api/tokens/introspect", { body: { token: readPat.token } })).status).toBe(401);
    expect((await call(b, "POST", "/api/tokens/introspect", { token: fullPat.token, body: {} })).status).toBe(400);
  });
});

describe("leaked-token reports", () => {
  test("anyone may report a token: it is revoked, the owner is told, the answer never varies", async () => {
    const alice = b.httpClient(aliceJwt);
    const leaked = await alice.mutation(api.auth.createApiToken, { name: "leaky", scopes: [] });
    const child = await call(b, "POST", "/api/sessions", { token: leaked.token, body: { agentId: "kid" } });
    expect(child.status).toBe(201);

    const answers = [];
    for (const token of [leaked.token, leaked.token, "garbage", await forgeToken(b, leaked.tokenId)]) {
      const r = await call(b, "POST", "/api/tokens/revoke-leaked", { body: { token } });
      answers.push({ status: r.status, body: r.text });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0].status).toBe(202);

    expect((await call(b, "GET", "/api/whoami", { token: leaked.token })).status).toBe(401);
    // its child session died with it
    expect((await call(b, "GET", "/api/whoami", { token: child.json.token })).status).toBe(401);
    const details = await alice.query(api.auth.getApiToken, { tokenId: leaked.tokenId });
    expect(details.status).toBe("revoked");
    const log = await alice.query(api.audit.list, { paginationOpts: { numItems: 30, cursor: null } });
    const events = log.page.filter((e) => e.action === "token.leaked" && e.targetId === leaked.tokenId);
    expect(events).toHaveLength(1); // the second report changed nothing
    expect(events[0].actorKind).toBe("anonymous");
  });

  test("an agent session token can be reported too", async () => {
    const s = (await call(b, "POST", "/api/sessions", { token: fullPat.token, body: { agentId: "leaker" } })).json;
    const r = await call(b, "POST", "/api/tokens/revoke-leaked", {
      body: new URLSearchParams({ token: s.token }).toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(r.status).toBe(202);
    expect((await call(b, "GET", "/api/whoami", { token: s.token })).status).toBe(401);
    expect((await call(b, "GET", "/api/whoami", { token: fullPat.token })).status).toBe(200);
    expect((await call(b, "POST", "/api/tokens/revoke-leaked", { body: {} })).status).toBe(400);
  });
});

describe("CORS", () => {
  test("only the dashboard origin gets CORS grants; preflight answered", async () => {
    const dashboard = backendEnv(b).SITE_URL.replace(/\/+$/, "");
    const pre = await call(b, "OPTIONS", "/api/whoami", {
      headers: { Origin: dashboard, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(dashboard);
    expect(pre.headers.get("access-control-allow-headers")).toContain("Authorization");

    const evil = await call(b, "OPTIONS", "/api/whoami", {
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();

    const get = await call(b, "GET", "/api/whoami", { token: readPat.token, headers: { Origin: dashboard } });
    expect(get.headers.get("access-control-allow-origin")).toBe(dashboard);
    const get2 = await call(b, "GET", "/api/whoami", { token: readPat.token, headers: { Origin: "https://evil.example" } });
    expect(get2.headers.get("access-control-allow-origin")).toBeNull();
  });
});
