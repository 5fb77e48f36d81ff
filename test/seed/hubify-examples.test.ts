// Every call in the seed's examples (Hubify docs, "Auth API" and "API
// Overview"), as written, with the official ConvexHttpClient against the
// embedded backend: same function kind (query / mutation / action), same
// arguments. Only the permission names are keyhole's (docs/design.md, "Public
// API"). A GitHub stand-in on loopback answers the OAuth code exchange.
import { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { errorOf } from "../helpers/errors";
import { signUpFresh } from "../helpers/signup";
import { startStub } from "../oauth/helpers";

const REDIRECT = "https://app.example.com/oauth/callback";

let b: SpawnedBackend;
let gh: Awaited<ReturnType<typeof startStub>>;
let client: ConvexHttpClient; // the seed's `client`: a signed-in person
let userId: string;

beforeAll(async () => {
  gh = await startStub({
    "POST /login/oauth/access_token": () => ({ json: { access_token: "gho_seed_token", token_type: "bearer", scope: "repo,read:user" } }),
    "GET /user": (r) =>
      r.headers.authorization === "Bearer gho_seed_token" ? { json: { id: 7, login: "seed-user" } } : { status: 401, json: {} },
    "DELETE /applications/gh-client/grant": () => ({ status: 204 }),
  });
  b = await spawnBackend({
    env: {
      KEYHOLE_GITHUB_CLIENT_ID: "gh-client",
      KEYHOLE_GITHUB_CLIENT_SECRET: "gh-secret",
      KEYHOLE_GITHUB_AUTHORIZE_URL: `${gh.url}/login/oauth/authorize`,
      KEYHOLE_GITHUB_TOKEN_URL: `${gh.url}/login/oauth/access_token`,
      KEYHOLE_GITHUB_API_URL: gh.url,
      KEYHOLE_OAUTH_REDIRECT_URIS: REDIRECT,
    },
  });
  client = new ConvexHttpClient(b.url);
  client.setAuth((await signUpFresh(b, "seed")).token);
  userId = (await client.query(api.auth.viewer, {})).userId;
});

afterAll(async () => {
  await b?.stop();
  await gh?.stop();
});

describe("API tokens", () => {
  test("createApiToken, listApiTokens, revokeApiToken; the key authenticates ConvexHttpClient", async () => {
    const token = await client.mutation(api.auth.createApiToken, {
      name: "my-server-token",
      scopes: ["tokens:read", "connections:read"],
    });
    expect(token).toMatchObject({ token: expect.any(String), tokenId: expect.any(String), name: "my-server-token" });
    expect(token.scopes).toHaveLength(2);
    expect(typeof token.expiresAt).toBe("number");

    // @ts-expect-error -- the seed passes no arguments; keyhole's listApiTokens also takes an optional `status` filter, so its TypeScript type asks for `{}`. At runtime the call works as written.
    const tokens = await client.query(api.auth.listApiTokens);
    const listed = tokens.tokens.find((t) => t._id === token.tokenId)!;
    expect(listed).toMatchObject({ name: "my-server-token", lastUsedAt: null });
    expect(typeof listed.createdAt).toBe("number");

    // "API Overview": server-to-server with the key.
    const server = new ConvexHttpClient(b.url);
    server.setAuth(token.token);
    expect(await server.query(api.auth.viewer, {})).toMatchObject({ kind: "pat", tokenId: token.tokenId });

    await client.mutation(api.auth.revokeApiToken, { tokenId: token.tokenId });
    expect((await errorOf(server.query(api.auth.viewer, {}))).code).toBe("revoked");
  });
});

describe("session tokens", () => {
  test("createSession, client.setAuth(session.token), validateSession, refreshSession({token, ttl}), endSession", async () => {
    const session = await client.mutation(api.auth.createSession, {
      agentId: "agent_abc123",
      ttl: 3600, // 1 hour
      metadata: {
        platform: "claude-code",
        purpose: "skill-execution",
      },
    });
    expect(session).toMatchObject({ token: expect.any(String), sessionId: expect.any(String), expiresAt: expect.any(Number) });
    const sessionToken = session.token;

    // "API Overview": a temporary agent session.
    const agent = new ConvexHttpClient(b.url);
    agent.setAuth(session.token);
    expect(await agent.query(api.auth.viewer, {})).toMatchObject({ kind: "agent", agentId: "agent_abc123" });

    const validation = await client.query(api.auth.validateSession, {
      token: sessionToken,
    });
    expect(validation).toEqual({
      valid: true,
      agentId: "agent_abc123",
      expiresAt: session.expiresAt,
      metadata: { platform: "claude-code", purpose: "skill-execution" },
    });

    const currentToken = sessionToken;
    const newSession = await client.mutation(api.auth.refreshSession, {
      token: currentToken,
      ttl: 3600,
    });
    expect(newSession.ok).toBe(true);
    if (!newSession.ok) return;
    expect(newSession.token).not.toBe(currentToken);
    expect(newSession.refreshToken).toBeUndefined(); // a session token never yields a refresh token
    expect(newSession.expiresAt).toBeLessThanOrEqual(session.expiresAt);
    expect((await client.query(api.auth.validateSession, { token: newSession.token })).valid).toBe(true);
    expect((await client.query(api.auth.validateSession, { token: currentToken })).valid).toBe(false);

    // And with the refresh token keyhole adds to createSession's result.
    const rotated = await client.mutation(api.auth.refreshSession, { refreshToken: session.refreshToken });
    expect(rotated).toMatchObject({ ok: true, refreshToken: expect.stringMatching(/^khr_/) as string });
    expect((await client.query(api.auth.validateSession, { token: newSession.token })).valid).toBe(false);

    if (!rotated.ok) return;
    await client.mutation(api.auth.endSession, { token: rotated.token });
    expect((await client.query(api.auth.validateSession, { token: rotated.token })).valid).toBe(false);
  });
});

describe("web sessions", () => {
  test("createWebSession({userId, userAgent, ipAddress}) and validateWebSession({sessionId})", async () => {
    const web = await client.mutation(api.auth.createWebSession, {
      userId,
      userAgent: "Mozilla/5.0 (seed example)",
      ipAddress: "203.0.113.10",
    });
    expect(web).toMatchObject({ sessionId: expect.any(String), userAgent: expect.any(String) });
    const check = await client.query(api.auth.validateWebSession, { sessionId: web.sessionId });
    expect(check).toMatchObject({ valid: true, sessionId: web.sessionId, current: true });

    // Someone else's userId is refused.
    const other = new ConvexHttpClient(b.url);
    other.setAuth((await signUpFresh(b, "seed-other")).token);
    expect((await errorOf(other.mutation(api.auth.createWebSession, { userId, userAgent: "x", ipAddress: "198.51.100.1" }))).code).toBe(
      "forbidden",
    );
  });
});

describe("OAuth connections", () => {
  test("initiateOAuth, completeOAuth (a mutation), listOAuthConnections shows the outcome, revokeOAuth", async () => {
    const { authUrl, state } = await client.mutation(api.auth.initiateOAuth, {
      provider: "github",
      scopes: ["repo", "read:user"],
      redirectUri: REDIRECT,
    });
    expect(new URL(authUrl).searchParams.get("state")).toBe(state);
    const code = "seed-code-1"; // what the provider appends to the redirect URI

    const connection = await client.mutation(api.auth.completeOAuth, {
      provider: "github",
      code,
      state,
    });
    expect(connection).toEqual({ connectionId: expect.any(String), provider: "github", scopes: ["repo", "read:user"], expiresAt: null });

    // The exchange runs scheduled; the record shows the outcome.
    let listed = await client.query(api.auth.listOAuthConnections, {});
    for (let i = 0; i < 200 && listed[0]?.status === "pending"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      listed = await client.query(api.auth.listOAuthConnections, {});
    }
    expect(listed).toEqual([
      expect.objectContaining({ _id: connection.connectionId, provider: "github", status: "active", accountLogin: "seed-user", attempt: null }),
    ]);
    expect(gh.requests.some((r) => r.path === "/login/oauth/access_token" && r.body.includes(code))).toBe(true);

    expect(await client.action(api.auth.revokeOAuth, { provider: "github" })).toMatchObject({ revoked: true });
    expect(await client.query(api.auth.listOAuthConnections, {})).toEqual([]);
  });
});
