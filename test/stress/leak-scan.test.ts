// Leak scan. Runs last (vitest.stress.config.ts). First a workload that
// issues every kind of secret through every surface — sign-in tokens and
// refresh tokens, PATs (Convex and HTTP API), agent sessions and their
// refresh tokens (created, validated, rotated, ended, introspected, reported
// as leaked), MCP calls, an OAuth connection made both ways (our callback
// route, and completeOAuth) with its state, browser binding, authorization
// code and provider access/refresh/id tokens, live queries over WebSocket,
// failed attempts with dead credentials — plus the backend's own secrets
// (signing and encryption keys). Then it searches every response body and
// header kept, every WebSocket message and every backend log line captured
// by the whole suite (this file and every other stress file) for every
// secret the suite issued: a secret may appear only in the response that
// issued it, and never in a log.
import { OAuth2Server } from "oauth2-mock-server";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { refreshOrThrow, rotateWith } from "../helpers/refresh";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { findLeaks, ISSUERS, loadCaptures, PASSWORD, Recorder, signUp } from "./helpers";

const DASHBOARD = "http://127.0.0.1:5173";
const APP_REDIRECT = `${DASHBOARD}/connections/callback`;
const CLIENT_SECRET = "stress-client-secret-never-shown";

const rec = new Recorder("leak-scan");
let b: SpawnedBackend;
let mock: OAuth2Server;

beforeAll(async () => {
  mock = new OAuth2Server();
  await mock.issuer.keys.generate("RS256");
  await mock.start(0, "127.0.0.1");
  const url = mock.issuer.url!;
  b = await spawnBackend({
    env: {
      SITE_URL: DASHBOARD,
      KEYHOLE_OAUTH2_CLIENT_ID: "stress-client",
      KEYHOLE_OAUTH2_CLIENT_SECRET: CLIENT_SECRET,
      KEYHOLE_OAUTH2_AUTHORIZE_URL: `${url}/authorize`,
      KEYHOLE_OAUTH2_TOKEN_URL: `${url}/token`,
      KEYHOLE_OAUTH2_REVOCATION_URL: `${url}/revoke`,
      KEYHOLE_OAUTH2_USERINFO_URL: `${url}/userinfo`,
      KEYHOLE_OAUTH2_DEFAULT_SCOPES: "openid profile",
      KEYHOLE_OAUTH2_PKCE: "true",
      KEYHOLE_OAUTH_REDIRECT_URIS: APP_REDIRECT,
    },
  });
  // Everything the provider hands out is a secret that must stay inside keyhole.
  mock.service.on("beforeResponse", (res: { body: Record<string, unknown> }) => {
    rec.secret("oauth-access", res.body.access_token as string, ISSUERS.oauthAccess);
    rec.secret("oauth-refresh", res.body.refresh_token as string);
    rec.secret("oauth-id-token", res.body.id_token as string);
  });
  rec.secret("oauth-client-secret", CLIENT_SECRET);
  // The backend's own secrets, generated into env.json on first start.
  const env = JSON.parse(readFileSync(join(b.dataDir, "env.json"), "utf8")) as Record<string, string>;
  for (const [k, v] of Object.entries(env)) {
    if (k === "KEYHOLE_SIGNING_KEY" || k === "JWT_PRIVATE_KEY") {
      const d = /"d"\s*:\s*"([^"]+)"/.exec(v)?.[1];
      rec.secret("signing-key", d ?? (k === "JWT_PRIVATE_KEY" ? v.replace(/-----[^-]+-----|\s/g, "").slice(0, 64) : undefined));
    }
    if (k === "KEYHOLE_ENCRYPTION_KEYS") for (const part of v.split(",")) rec.secret("encryption-key", part.split(":")[1]);
  }
  rec.secret("password", PASSWORD);
});

afterAll(async () => {
  if (b) {
    await b.stop();
  }
  await mock?.stop();
});

/** A JSON request to the site, recorded. */
async function site(method: string, path: string, token: string | null, body?: unknown) {
  const res = await rec.fetch(`${b.siteUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    redirect: "manual",
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> | null, headers: res.headers };
}

test("the workload: every secret kind through every surface", async () => {
  try {
    await workload();
  } finally {
    await b.stop();
    rec.addLogs(b.logs());
    rec.save();
  }
});

async function workload() {
  // People: sign-up, a refresh of the sign-in, a wrong password.
  const alice = await signUp(rec, b.url, "leak-alice@example.test");
  await alice.client.mutation(api.orgs.create, { slug: "leak", name: "Leak" });
  await alice.client.mutation(api.workspaces.create, { org: "leak", slug: "main", name: "Main" });
  await alice.client.mutation(api.items.put, { workspace: "leak/main", name: "Signal/x", data: { ok: true } });
  const refreshToken = rec.secrets.filter((s) => s.kind === "signin-refresh").at(-1)!.value;
  const refreshed = (await rec.httpClient(b.url).action(api.auth.signIn, { refreshToken })) as { tokens?: { token: string; refreshToken: string } };
  rec.secret("signin-token", refreshed.tokens?.token, ISSUERS.signin);
  rec.secret("signin-refresh", refreshed.tokens?.refreshToken, ISSUERS.signin);
  await expect(
    rec.httpClient(b.url).action(api.auth.signIn, { provider: "password", params: { email: "leak-alice@example.test", password: "wrong-password-123", flow: "signIn" } }),
  ).rejects.toThrow();
  await alice.client.mutation(api.auth.createWebSession, { userAgent: "leak-scan" });
  await alice.client.query(api.sessions.listDevices, {});

  // PATs, through Convex and through the HTTP API.
  const pat = await alice.client.mutation(api.auth.createApiToken, { name: "leak-pat", scopes: ["leak=work:read,work:write", "connections:use", "tokens:read"] });
  rec.secret("pat", pat.token, ISSUERS.pat);
  const viaHttp = await site("POST", "/api/pats", alice.token, { name: "leak-http", scopes: ["work:read"] });
  if (viaHttp.status === 201) rec.secret("pat", viaHttp.json!.token as string, ISSUERS.pat);
  await alice.client.query(api.auth.listApiTokens, {});
  await alice.client.query(api.auth.getApiToken, { tokenId: pat.tokenId });
  await site("GET", "/api/whoami", pat.token);
  await site("GET", "/api/pats", pat.token);
  await site("GET", "/api/pats/leak-pat", pat.token);
  await site("GET", "/api/workspaces/leak/main/items", pat.token);
  await site("PUT", "/api/workspaces/leak/main/items/Signal/y", pat.token, { data: { n: 1 } });
  await site("POST", "/api/tokens/introspect", pat.token, { token: pat.token });

  // Agent sessions: Convex and HTTP; validate, rotate both ways, end.
  const s1 = await rec.httpClient(b.url, pat.token).mutation(api.auth.createSession, { agentId: "leaker", ttl: 600, metadata: { task: "scan" } });
  rec.secret("agent-token", s1.token, ISSUERS.agent);
  rec.secret("agent-refresh", s1.refreshToken, ISSUERS.agent);
  const s2 = await site("POST", "/api/sessions", pat.token, { agentId: "leaker-http", ttl: 600 });
  expect(s2.status).toBe(201);
  rec.secret("agent-token", s2.json!.token as string, ISSUERS.agent);
  rec.secret("agent-refresh", s2.json!.refreshToken as string, ISSUERS.agent);
  await rec.httpClient(b.url).query(api.auth.validateSession, { token: s1.token });
  await site("POST", "/api/tokens/introspect", pat.token, { token: s1.token });
  const r1 = await rotateWith(rec.httpClient(b.url), s1.refreshToken);
  rec.secret("agent-token", r1.token, ISSUERS.agent);
  rec.secret("agent-refresh", r1.refreshToken, ISSUERS.agent);
  const r2 = await site("POST", "/api/sessions/refresh", s2.json!.token as string, {});
  expect(r2.status).toBe(200);
  rec.secret("agent-token", r2.json!.token as string, ISSUERS.agent);
  expect(r2.json!.refreshToken).toBeUndefined();
  const r3 = await refreshOrThrow(rec.httpClient(b.url), { token: r1.token });
  rec.secret("agent-token", r3.token, ISSUERS.agent);
  expect(r3.refreshToken).toBeUndefined(); // a session token never yields a refresh token
  await rec.httpClient(b.url, r3.token).query(api.items.get, { workspace: "leak/main", name: "Signal/x" });
  await alice.client.query(api.sessions.listAgentSessions, {});
  // Dead credentials: the rotated-away token, a replayed refresh token (ends the family).
  await expect(rec.httpClient(b.url, s1.token).query(api.auth.viewer, {})).rejects.toThrow();
  await site("GET", "/api/whoami", s1.token);
  await expect(rotateWith(rec.httpClient(b.url), s1.refreshToken)).rejects.toThrow();
  await site("DELETE", "/api/sessions", r2.json!.token as string);
  await rec.httpClient(b.url).mutation(api.auth.endSession, { token: r3.token });
  await rec.httpClient(b.url).query(api.auth.validateSession, { token: r3.token });

  // MCP.
  const mcp = async (token: string, body: unknown) =>
    rec.fetch(`${b.siteUrl}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(body),
    }).then((r) => r.text());
  await mcp(pat.token, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "leak", version: "1" } } });
  const tools = JSON.parse(await mcp(pat.token, { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} })) as { result?: { tools?: Array<{ name: string }> } };
  for (const t of tools.result?.tools ?? []) {
    await mcp(pat.token, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: t.name, arguments: { workspace: "leak/main", name: "Signal/x" } } });
  }
  await mcp(s1.token, { jsonrpc: "2.0", id: 4, method: "tools/list", params: {} });

  // Live queries over the WebSocket, with a PAT and with the sign-in.
  const live = rec.client(b.url);
  live.setAuth(async () => pat.token);
  await new Promise<void>((resolve, reject) => {
    const unsub = live.onUpdate(api.auth.viewer, {}, () => {
      unsub();
      resolve();
    }, reject);
  });
  await live.close();
  const live2 = rec.client(b.url);
  live2.setAuth(async () => alice.token);
  await new Promise<void>((resolve, reject) => {
    const unsub = live2.onUpdate(api.auth.listApiTokens, {}, () => {
      unsub();
      resolve();
    }, reject);
  });
  await live2.close();

  // OAuth, through our callback route (browser-bound state)…
  const callback = `${b.siteUrl}/oauth/callback/oauth2`;
  const init = await alice.client.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: ["openid"], redirectUri: callback });
  rec.secret("oauth-state", init.state, ISSUERS.oauthState);
  const start = await rec.fetch(init.authUrl, { redirect: "manual", headers: { Referer: `${DASHBOARD}/connections` } });
  await start.text();
  expect(start.status).toBe(302);
  const setCookie = start.headers.get("set-cookie")!;
  rec.secret("oauth-binding", setCookie.split(";")[0]!.split("=").slice(1).join("="), ["GET /oauth/start"]);
  const atProvider = await fetch(start.headers.get("location")!, { redirect: "manual" }); // the provider's answer: not ours, not recorded
  const back = new URL(atProvider.headers.get("location")!);
  rec.secret("oauth-code", back.searchParams.get("code"));
  const cb = await rec.fetch(back.toString(), { redirect: "manual", headers: { Cookie: setCookie.split(";")[0]! } });
  await cb.text();
  expect(cb.status).toBe(302);
  expect(cb.headers.get("location")).toBe(`${DASHBOARD}/connections?connected=oauth2`);
  // …and through completeOAuth from an allowlisted app redirect.
  const init2 = await alice.client.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: ["openid"], redirectUri: APP_REDIRECT });
  rec.secret("oauth-state", init2.state, ISSUERS.oauthState);
  const atProvider2 = await fetch(init2.authUrl, { redirect: "manual" });
  const back2 = new URL(atProvider2.headers.get("location")!);
  rec.secret("oauth-code", back2.searchParams.get("code"));
  const done = await alice.client.mutation(api.auth.completeOAuth, {
    provider: "oauth2",
    code: back2.searchParams.get("code")!,
    state: back2.searchParams.get("state")!,
  });
  // The exchange runs scheduled; the connection record shows the outcome.
  for (let i = 0; i < 100; i++) {
    const c = (await alice.client.query(api.auth.listOAuthConnections, {})).find((x) => x._id === done.connectionId);
    if (c?.attempt === null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // A replayed state and code are refused, without echoing them.
  await expect(
    alice.client.mutation(api.auth.completeOAuth, { provider: "oauth2", code: back2.searchParams.get("code")!, state: back2.searchParams.get("state")! }),
  ).rejects.toThrow();
  await rec.fetch(back.toString(), { redirect: "manual" }).then((r) => r.text());
  await alice.client.query(api.auth.listOAuthConnections, {});
  await rec.httpClient(b.url, pat.token).action(api.oauth.getConnectionToken, { provider: "oauth2" });
  await alice.client.query(api.oauth.listProviders, {});
  await alice.client.action(api.auth.revokeOAuth, { provider: "oauth2" });

  // Revocations and what is left to see afterwards.
  const leaked = await alice.client.mutation(api.auth.createApiToken, { name: "leak-reported", scopes: [] });
  rec.secret("pat", leaked.token, ISSUERS.pat);
  await site("POST", "/api/tokens/revoke-leaked", null, { token: leaked.token });
  await site("GET", "/api/whoami", leaked.token);
  await alice.client.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
  await site("GET", "/api/whoami", pat.token);
  await expect(rec.httpClient(b.url, pat.token).query(api.auth.viewer, {})).rejects.toThrow();
  await mcp(pat.token, { jsonrpc: "2.0", id: 5, method: "tools/list", params: {} });
  await alice.client.query(api.audit.list, { paginationOpts: { numItems: 100, cursor: null } });
  await alice.client.query(api.users.me, {});
  await alice.client.mutation(api.sessions.signOutOtherDevices, {});
}

test("the scanner itself: it finds a planted secret, a JWT by its signature alone, and respects the issuing response", () => {
  const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwYXQ6MSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtMTIzNDU2";
  const capture = {
    file: "synthetic",
    secrets: [
      { kind: "pat" as const, value: jwt, allowed: ["auth:createApiToken"] },
      { kind: "agent-refresh" as const, value: "refresh-secret-value-0123456789", allowed: [] },
    ],
    responses: [
      { label: "auth:createApiToken", status: 200, text: `{"token":"${jwt}"}` },
      { label: "auth:listApiTokens", status: 200, text: `{"sig":"${jwt.split(".")[2]}"}` },
      { label: "GET /api/whoami", status: 200, text: "{}" },
    ],
    logs: ["[keyhole] refresh failed for refresh-secret-value-0123456789"],
  };
  const leaks = findLeaks([capture]);
  expect(leaks.map((l) => `${l.kind} in ${l.where}`).sort()).toEqual([
    "agent-refresh in log of synthetic",
    "pat in response to auth:listApiTokens (200) in synthetic",
  ]);
});

test("no secret the suite issued appears in any log line or any other response", () => {
  const captures = loadCaptures();
  const secrets = captures.flatMap((c) => c.secrets);
  const kinds = new Set(secrets.map((s) => s.kind));
  // The scan covers what it claims to.
  for (const k of ["pat", "agent-token", "agent-refresh", "signin-token", "signin-refresh", "oauth-state", "oauth-code", "oauth-access", "oauth-refresh", "password"]) {
    expect(kinds, `no ${k} was issued`).toContain(k);
  }
  const responses = captures.reduce((n, c) => n + c.responses.length, 0);
  const logBytes = captures.reduce((n, c) => n + c.logs.join("").length, 0);
  expect(responses).toBeGreaterThan(50);
  expect(logBytes).toBeGreaterThan(0);
  console.log(
    `[leak-scan] ${secrets.length} secrets (${[...kinds].sort().join(", ")}) searched in ${responses} responses and ${logBytes} bytes of backend logs from ${captures.map((c) => c.file).join(", ")}`,
  );
  const leaks = findLeaks(captures);
  expect(leaks).toEqual([]);
});
