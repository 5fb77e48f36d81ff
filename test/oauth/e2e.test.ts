// End to end on the embedded backend (child process) with the official
// clients: a person signs up, connects the real OAuth2 server (loopback) via
// the browser routes, a PAT with connections:use gets fresh tokens (refreshed
// on the way), and the person revokes. The provider never sees a keyhole token.
import type { IncomingMessage } from "node:http";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { passwordSignUp } from "../helpers/signup";
import { CLIENT_ID, CLIENT_SECRET, clearOAuthEnv, startMockProvider } from "./helpers";

let mock: Awaited<ReturnType<typeof startMockProvider>>;
let b: SpawnedBackend;
const DASHBOARD = "http://127.0.0.1:5173"; // the embedded backend's default SITE_URL

type Seen = { endpoint: string; headers: IncomingMessage["headers"]; body: string };
const seen: Seen[] = [];

beforeAll(async () => {
  mock = await startMockProvider();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith("KEYHOLE_OAUTH2_") && v) env[k] = v;
  clearOAuthEnv(); // the backend gets them explicitly; nothing else in this process needs them
  b = await spawnBackend({ env: { ...env, SITE_URL: DASHBOARD } });
  const record = (endpoint: string) => (_res: unknown, req: IncomingMessage & { body?: unknown }) => {
    const entry: Seen = { endpoint, headers: req.headers, body: req.body ? JSON.stringify(req.body) : "" };
    seen.push(entry);
    if (!req.body) req.on("data", (c: Buffer) => (entry.body += c.toString()));
  };
  mock.service.on("beforeResponse", record("token"));
  mock.service.on("beforeUserinfo", record("userinfo"));
  mock.service.on("beforeRevoke", record("revoke"));
});
afterAll(async () => {
  await b?.stop();
  await mock?.server.stop();
});

test("connect through the callback route, vend to a PAT with refresh, revoke", async () => {
  // Sign up (a real @convex-dev/auth password sign-in).
  const signUp = { tokens: await passwordSignUp(b, `oauth-${Date.now()}@example.com`) };
  const person = b.httpClient(signUp.tokens.token);

  // The provider issues a short-lived token, so the first vend must refresh it.
  mock.service.once("beforeResponse", (res: { body: Record<string, unknown> }) => {
    res.body.expires_in = 60;
  });

  const callback = `${b.siteUrl}/oauth/callback/oauth2`;
  const { authUrl, state } = await person.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: ["openid"], redirectUri: callback });
  expect(authUrl).toBe(`${b.siteUrl}/oauth/start/oauth2?state=${state}`);

  // Browser: dashboard → start route (cookie) → provider → callback → dashboard.
  const startRes = await fetch(authUrl, { redirect: "manual", headers: { Referer: `${DASHBOARD}/connections` } });
  expect(startRes.status).toBe(302);
  const cookie = startRes.headers.get("set-cookie")!.split(";")[0];
  const providerRes = await fetch(startRes.headers.get("location")!, { redirect: "manual" });
  const back = providerRes.headers.get("location")!;
  expect(back.startsWith(`${callback}?`)).toBe(true);
  const cbRes = await fetch(back, { redirect: "manual", headers: { Cookie: cookie } });
  expect(cbRes.status).toBe(302);
  expect(cbRes.headers.get("location")).toBe(`${DASHBOARD}/connections?connected=oauth2`);

  const list = await person.query(api.auth.listOAuthConnections, {});
  expect(list).toHaveLength(1);
  expect(list[0]).toMatchObject({ provider: "oauth2", accountId: "johndoe", status: "active", canRefresh: true });
  expect(JSON.stringify(list)).not.toMatch(/eyJ|v1\.k1\./);

  // An agent's PAT with connections:use gets a fresh token: refreshed, since < 2 min were left.
  const pat = await person.mutation(api.auth.createApiToken, { name: "agent", scopes: ["connections:use"] });
  const agent = b.httpClient(pat.token);
  const vended = await agent.action(api.oauth.getConnectionToken, { provider: "oauth2" });
  expect(vended.expiresAt).toBeGreaterThan(Date.now() + 50 * 60_000);
  const refresh = seen.filter((s) => s.endpoint === "token" && s.body.includes("refresh_token"));
  expect(refresh).toHaveLength(1);
  expect(refresh[0].headers.authorization).toBe(`Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`);

  // A PAT without connections:use cannot.
  const weak = await person.mutation(api.auth.createApiToken, { name: "weak", scopes: ["work:read"] });
  await expect(b.httpClient(weak.token).action(api.oauth.getConnectionToken, { provider: "oauth2" })).rejects.toThrow(/connections:use/);

  // Revoke: the provider's revocation endpoint is called, tokens gone, agents lose access.
  const revoked = await person.action(api.auth.revokeOAuth, { provider: "oauth2" });
  expect(revoked).toMatchObject({ revoked: true, providerRevoked: true });
  expect(await person.query(api.auth.listOAuthConnections, {})).toEqual([]);
  await expect(agent.action(api.oauth.getConnectionToken, { provider: "oauth2" })).rejects.toThrow(/no oauth2 connection/);
  expect(seen.filter((s) => s.endpoint === "revoke").length).toBe(2);

  // The provider never saw a keyhole credential.
  const everything = JSON.stringify(seen);
  for (const secret of [signUp.tokens.token, pat.token, weak.token]) expect(everything).not.toContain(secret);

  // The embedded backend's logs hold no provider token either.
  expect(b.logs()).not.toContain(vended.accessToken);
});
