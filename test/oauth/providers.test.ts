// GitHub and Slack: their answers differ from plain OAuth2 (GitHub: errors in
// a 200 answer, user at /user, grant deletion; Slack: ok/authed_user/team,
// comma scopes, auth.revoke). Loopback stubs play them.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { aadFor, decryptSecret } from "../../convex/model/oauth/encryption";
import { configuredProviders, requireProvider } from "../../convex/model/oauth/providers";
import { makeTest, signIn, type TestConvex } from "../helpers/convex";
import { APP_REDIRECT, auditActions, clearOAuthEnv, completeOAuth, connectionRows, expectError, startStub, tokenRows, type Recorded } from "./helpers";

let t: TestConvex;
let gh: Awaited<ReturnType<typeof startStub>>;
let slack: Awaited<ReturnType<typeof startStub>>;
let ghTokenAnswer: (r: Recorded) => { status?: number; json?: unknown };
let slackAnswer: (r: Recorded) => { status?: number; json?: unknown };

beforeAll(async () => {
  gh = await startStub({
    "POST /login/oauth/access_token": (r) => ghTokenAnswer(r),
    "GET /user": (r) =>
      r.headers.authorization === "Bearer gho_alice_token"
        ? { json: { id: 4242, login: "octocat", name: "The Octocat" } }
        : { status: 401, json: { message: "Bad credentials" } },
    "DELETE /applications/gh-client/grant": () => ({ status: 204 }),
  });
  slack = await startStub({
    "POST /api/oauth.v2.access": (r) => slackAnswer(r),
    "POST /api/auth.revoke": () => ({ json: { ok: true, revoked: true } }),
  });
});
afterAll(async () => {
  await gh.stop();
  await slack.stop();
  clearOAuthEnv();
});
beforeEach(async () => {
  t = await makeTest();
  clearOAuthEnv();
  process.env.KEYHOLE_OAUTH_REDIRECT_URIS = APP_REDIRECT;
  process.env.KEYHOLE_GITHUB_CLIENT_ID = "gh-client";
  process.env.KEYHOLE_GITHUB_CLIENT_SECRET = "gh-secret";
  process.env.KEYHOLE_GITHUB_AUTHORIZE_URL = `${gh.url}/login/oauth/authorize`;
  process.env.KEYHOLE_GITHUB_TOKEN_URL = `${gh.url}/login/oauth/access_token`;
  process.env.KEYHOLE_GITHUB_API_URL = gh.url;
  process.env.KEYHOLE_SLACK_CLIENT_ID = "slack-client";
  process.env.KEYHOLE_SLACK_CLIENT_SECRET = "slack-secret";
  process.env.KEYHOLE_SLACK_AUTHORIZE_URL = `${slack.url}/oauth/v2/authorize`;
  process.env.KEYHOLE_SLACK_API_URL = `${slack.url}/api`;
  process.env.KEYHOLE_SLACK_DEFAULT_SCOPES = "users:read,chat:write";
  ghTokenAnswer = () => ({ json: { access_token: "gho_alice_token", token_type: "bearer", scope: "repo,read:user" } });
  slackAnswer = () => ({
    json: {
      ok: true,
      app_id: "A1",
      authed_user: { id: "U123", scope: "users:read,chat:write", access_token: "xoxp-alice", token_type: "user" },
      team: { id: "T9", name: "Acme" },
      enterprise: null,
    },
  });
});
afterEach(() => {
  gh.requests.length = 0;
  slack.requests.length = 0;
});

describe("GitHub", () => {
  test("connects: PKCE + JSON token answer with comma scopes, identity from /user", async () => {
    const alice = await signIn(t, "alice@example.com");
    const { authUrl, state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "github", scopes: ["repo", "read:user"], redirectUri: APP_REDIRECT });
    const u = new URL(authUrl);
    expect(u.origin + u.pathname).toBe(`${gh.url}/login/oauth/authorize`);
    expect(u.searchParams.get("scope")).toBe("repo read:user");
    expect(u.searchParams.get("code_challenge_method")).toBe("S256");

    const done = await completeOAuth(t, alice.as, { provider: "github", code: "gh-code-1", state });
    expect(done.scopes).toEqual(["repo", "read:user"]);
    expect(done.expiresAt).toBeNull(); // OAuth-app tokens do not expire

    const tokenReq = gh.requests.find((r) => r.path === "/login/oauth/access_token")!;
    expect(tokenReq.headers.accept).toBe("application/json");
    const form = new URLSearchParams(tokenReq.body);
    expect(form.get("code")).toBe("gh-code-1");
    expect(form.get("client_id")).toBe("gh-client");
    expect(form.get("redirect_uri")).toBe(APP_REDIRECT);
    expect(form.get("code_verifier")).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const [row] = await connectionRows(t, alice.userId);
    expect(row).toMatchObject({ provider: "github", accountId: "4242", accountLogin: "octocat" });
    expect(await decryptSecret(row.accessToken, aadFor("oauthConnections", row._id, "accessToken"))).toBe("gho_alice_token");

    // An agent-style vend returns the non-expiring token as is.
    expect(await alice.as.action(api.oauth.getConnectionToken, { provider: "github" })).toEqual({
      accessToken: "gho_alice_token",
      expiresAt: null,
      scopes: ["repo", "read:user"],
    });
  });

  test("GitHub's 200-with-error answer for a bad code → invalid_argument, nothing stored", async () => {
    ghTokenAnswer = () => ({ json: { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." } });
    const alice = await signIn(t, "alice@example.com");
    const { state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "github", scopes: [], redirectUri: APP_REDIRECT });
    await expectError(completeOAuth(t, alice.as, { provider: "github", code: "bad", state }), "invalid_argument", /GitHub rejected the authorization code \(bad_verification_code\)/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("revoke deletes the app grant with client credentials (DELETE /applications/{id}/grant)", async () => {
    const alice = await signIn(t, "alice@example.com");
    const { state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "github", scopes: [], redirectUri: APP_REDIRECT });
    await completeOAuth(t, alice.as, { provider: "github", code: "c", state });
    expect(await alice.as.action(api.auth.revokeOAuth, { provider: "github" })).toMatchObject({ revoked: true, providerRevoked: true });
    const del = gh.requests.find((r) => r.method === "DELETE")!;
    expect(del.path).toBe("/applications/gh-client/grant");
    expect(del.headers.authorization).toBe(`Basic ${Buffer.from("gh-client:gh-secret").toString("base64")}`);
    expect(JSON.parse(del.body)).toEqual({ access_token: "gho_alice_token" });
    expect(await connectionRows(t, alice.userId)).toHaveLength(0);
  });
});

describe("Slack", () => {
  test("connects: user_scope with commas, token from authed_user, identity from the answer", async () => {
    const alice = await signIn(t, "alice@example.com");
    const { authUrl, state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "slack", scopes: [], redirectUri: APP_REDIRECT });
    const u = new URL(authUrl);
    expect(u.searchParams.get("user_scope")).toBe("users:read,chat:write");
    expect(u.searchParams.has("code_challenge")).toBe(false); // PKCE off by default for Slack

    const done = await completeOAuth(t, alice.as, { provider: "slack", code: "slack-code", state });
    expect(done.scopes).toEqual(["users:read", "chat:write"]);
    const [row] = await connectionRows(t, alice.userId);
    expect(row).toMatchObject({ provider: "slack", accountId: "U123", accountLogin: "Acme" });
    expect(await decryptSecret(row.accessToken, aadFor("oauthConnections", row._id, "accessToken"))).toBe("xoxp-alice");
    expect(new URLSearchParams(slack.requests[0].body).get("client_secret")).toBe("slack-secret");
  });

  test("Slack's ok:false answer → a clear error, nothing stored", async () => {
    slackAnswer = () => ({ json: { ok: false, error: "invalid_code" } });
    const alice = await signIn(t, "alice@example.com");
    const { state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "slack", scopes: [], redirectUri: APP_REDIRECT });
    await expectError(completeOAuth(t, alice.as, { provider: "slack", code: "x", state }), "invalid_argument", /Slack rejected the authorization code \(invalid_code\)/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("revoke calls auth.revoke with the token", async () => {
    const alice = await signIn(t, "alice@example.com");
    const { state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "slack", scopes: [], redirectUri: APP_REDIRECT });
    await completeOAuth(t, alice.as, { provider: "slack", code: "c", state });
    expect(await alice.as.action(api.auth.revokeOAuth, { provider: "slack" })).toMatchObject({ revoked: true, providerRevoked: true });
    const rev = slack.requests.find((r) => r.path === "/api/auth.revoke")!;
    expect(new URLSearchParams(rev.body).get("token")).toBe("xoxp-alice");
    expect((await auditActions(t, alice.userId)).map((a) => a.action)).toEqual(["connection.connected", "connection.revoked"]);
  });
});

describe("configuration", () => {
  test("listProviders names what is configured, without secrets", async () => {
    const alice = await signIn(t, "alice@example.com");
    const list = await alice.as.query(api.oauth.listProviders, {});
    expect(list.map((p) => p.provider)).toEqual(["github", "slack"]);
    expect(JSON.stringify(list)).not.toMatch(/gh-secret|slack-secret/);
    expect(list[0].callbackUrl).toBe("http://127.0.0.1:3211/oauth/callback/github");
    await expect(t.query(api.oauth.listProviders, {})).rejects.toThrow(/sign in/);
  });

  test("plain-http endpoints are refused except on loopback; problems name the variable, not the value", () => {
    const env = {
      KEYHOLE_OAUTH2_CLIENT_ID: "id",
      KEYHOLE_OAUTH2_CLIENT_SECRET: "very-secret-value",
      KEYHOLE_OAUTH2_AUTHORIZE_URL: "http://idp.example.com/authorize",
      KEYHOLE_OAUTH2_TOKEN_URL: "https://idp.example.com/token",
    };
    const { providers, problems } = configuredProviders(env);
    expect(providers).toEqual([]);
    expect(problems[0].problem).toMatch(/KEYHOLE_OAUTH2_AUTHORIZE_URL must be an https URL/);
    expect(() => requireProvider("oauth2", env)).toThrow(/misconfigured/);
    expect(() => requireProvider("oauth2", env)).not.toThrow(/very-secret-value/);
    expect(configuredProviders({ ...env, KEYHOLE_OAUTH2_AUTHORIZE_URL: "https://idp.example.com/authorize" }).providers[0].id).toBe("oauth2");
  });

  test("our own callback URL is always an allowed redirect URI; nothing else is implied", async () => {
    delete process.env.KEYHOLE_OAUTH_REDIRECT_URIS;
    const alice = await signIn(t, "alice@example.com");
    const own = "http://127.0.0.1:3211/oauth/callback/github";
    const { authUrl } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "github", scopes: [], redirectUri: own });
    expect(authUrl.startsWith("http://127.0.0.1:3211/oauth/start/github?state=")).toBe(true);
    await expect(
      alice.as.mutation(api.auth.initiateOAuth, { provider: "github", scopes: [], redirectUri: "http://127.0.0.1:3211/oauth/callback/slack" }),
    ).rejects.toThrow(/not allowlisted/);
  });
});
