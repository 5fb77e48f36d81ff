// initiateOAuth / completeOAuth against a real OAuth2 server on loopback
// (oauth2-mock-server as the generic `oauth2` provider).
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { makeTest, signIn, asToken, type TestConvex } from "../helpers/convex";
import {
  APP_REDIRECT,
  auditActions,
  authorizeAt,
  completeOAuth,
  connectionRows,
  deadPort,
  expectError,
  insertPat,
  tokenRows,
  mockProviderForFile,
  type MockProvider,
} from "./helpers";

let mock: MockProvider;
let t: TestConvex;

mockProviderForFile((m) => (mock = m));
beforeEach(async () => {
  t = await makeTest();
  await startMockProviderEnvAgain();
});
afterEach(() => {
  vi.useRealTimers();
  mock.service.removeAllListeners();
});

/** Restores the env a test may have changed (the server keeps running). */
async function startMockProviderEnvAgain() {
  const url = mock.url;
  process.env.KEYHOLE_OAUTH2_TOKEN_URL = `${url}/token`;
  process.env.KEYHOLE_OAUTH2_PKCE = "true";
  process.env.KEYHOLE_OAUTH_REDIRECT_URIS = APP_REDIRECT;
  delete process.env.KEYHOLE_GITHUB_CLIENT_ID;
  delete process.env.KEYHOLE_GITHUB_CLIENT_SECRET;
}

describe("happy path", () => {
  test("initiate → authorize at the provider → complete stores an encrypted connection", async () => {
    const alice = await signIn(t, "alice@example.com");
    const issued: string[] = [];
    mock.service.once("beforeResponse", (res: { body: Record<string, unknown> }) => {
      res.body.scope = "openid profile"; // granted scopes, as the provider returns them
      for (const k of ["access_token", "refresh_token", "id_token"]) if (typeof res.body[k] === "string") issued.push(res.body[k]);
    });
    const { authUrl, state } = await alice.as.mutation(api.auth.initiateOAuth, {
      provider: "oauth2",
      scopes: ["openid", "profile", "email"],
      redirectUri: APP_REDIRECT,
    });
    // 256-bit state, PKCE S256 on the authorize URL, exact redirect URI.
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const au = new URL(authUrl);
    expect(au.origin + au.pathname).toBe(`${mock.url}/authorize`);
    expect(au.searchParams.get("code_challenge_method")).toBe("S256");
    expect(au.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(au.searchParams.get("redirect_uri")).toBe(APP_REDIRECT);
    expect(au.searchParams.get("scope")).toBe("openid profile email");
    expect(au.searchParams.get("state")).toBe(state);

    const back = await authorizeAt(authUrl);
    expect(back.state).toBe(state);
    expect(back.location.origin + back.location.pathname).toBe(APP_REDIRECT);

    const done = await completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state });
    expect(done.provider).toBe("oauth2");
    expect(done.scopes).toEqual(["openid", "profile"]);
    expect(done.expiresAt).toBeGreaterThan(Date.now() + 3500_000);

    const rows = await connectionRows(t, alice.userId);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row._id).toBe(done.connectionId);
    expect(row.accountId).toBe("johndoe"); // from the provider's userinfo endpoint
    expect(row.keyId).toBe("k1");
    expect(row.accessToken).toMatch(/^v1\.k1\./);
    expect(row.refreshToken).toMatch(/^v1\.k1\./);
    // Nothing the provider issued is stored in the clear: not the tokens, nor
    // any part of them (each JWT segment is checked on its own; every one is
    // long enough that random ciphertext cannot contain it by chance).
    expect(issued.length).toBeGreaterThanOrEqual(2);
    const stored = JSON.stringify(row);
    for (const secret of issued) {
      const parts = [secret, ...secret.split(".").filter((p) => p.length >= 16)];
      for (const part of parts) expect(stored).not.toContain(part);
    }

    const state0 = await t.run(async (ctx) => await ctx.db.query("oauthStates").collect());
    expect(state0).toHaveLength(1);
    expect(state0[0].usedAt).toBeDefined();
    expect(state0[0].verifier).toBeUndefined(); // PKCE verifier dropped once used
    expect(JSON.stringify(state0)).not.toContain(state);

    const audit = await auditActions(t, alice.userId);
    expect(audit.map((a) => a.action)).toContain("connection.connected");
  });

  test("without PKCE configured the authorize URL carries no challenge and the flow still completes", async () => {
    process.env.KEYHOLE_OAUTH2_PKCE = "false";
    const alice = await signIn(t, "alice@example.com");
    const { authUrl, state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT });
    expect(new URL(authUrl).searchParams.has("code_challenge")).toBe(false);
    expect(new URL(authUrl).searchParams.get("scope")).toBe("openid profile"); // defaults
    const back = await authorizeAt(authUrl);
    const done = await completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state });
    expect((await connectionRows(t, alice.userId))[0]._id).toBe(done.connectionId);
  });

  test("connecting again replaces the connection (one per provider)", async () => {
    const alice = await signIn(t, "alice@example.com");
    for (let i = 0; i < 2; i++) {
      const { authUrl, state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT });
      const back = await authorizeAt(authUrl);
      await completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state });
    }
    expect(await connectionRows(t, alice.userId)).toHaveLength(1);
  });
});

describe("completeOAuth as the seed calls it: a mutation, the outcome on the record", () => {
  async function started(email = "alice@example.com") {
    const who = await signIn(t, email);
    const { authUrl, state } = await who.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: ["openid", "profile"], redirectUri: APP_REDIRECT });
    const back = await authorizeAt(authUrl);
    return { who, state, code: back.code! };
  }
  const listed = async (as: ReturnType<TestConvex["withIdentity"]>) => (await as.query(api.auth.listOAuthConnections, {}))[0];

  test("returns {connectionId, provider, scopes, expiresAt} at once; pending, then active; no secret in the scheduler", async () => {
    const { who, state, code } = await started();
    const done = await who.as.mutation(api.auth.completeOAuth, { provider: "oauth2", code, state });
    expect(done).toEqual({ connectionId: expect.any(String) as string, provider: "oauth2", scopes: ["openid", "profile"], expiresAt: null });
    expect(await listed(who.as)).toMatchObject({ _id: done.connectionId, status: "pending", attempt: { status: "pending", error: null } });
    await expectError(who.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "not_found", /pending/);
    // The code and the PKCE verifier are never scheduler arguments, and never stored in the clear.
    const scheduled = await t.run(async (ctx) => await ctx.db.system.query("_scheduled_functions").collect());
    expect(scheduled.map((f) => f.name)).toContain("oauth:completeExchange");
    const stateRows = await t.run(async (ctx) => await ctx.db.query("oauthStates").collect());
    for (const text of [JSON.stringify(scheduled), JSON.stringify(stateRows)]) expect(text).not.toContain(code);
    expect(stateRows[0].exchange).toMatch(/^v1\.k1\./);

    await t.finishAllScheduledFunctions(() => {});
    const after = await listed(who.as);
    expect(after).toMatchObject({ _id: done.connectionId, status: "active", attempt: null, accountId: "johndoe" });
    expect(after.expiresAt).toBeGreaterThan(Date.now());
    expect((await t.run(async (ctx) => await ctx.db.query("oauthStates").collect()))[0].exchange).toBeUndefined();
    expect((await who.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBeTruthy();
  });

  test("a failed exchange shows on the record with {code, message}; no token stored; connecting again works", async () => {
    const { who, state, code } = await started();
    mock.service.once("beforeResponse", (res: { body: unknown; statusCode: number }) => {
      res.body = { error: "invalid_grant" };
      res.statusCode = 400;
    });
    await who.as.mutation(api.auth.completeOAuth, { provider: "oauth2", code, state });
    await t.finishAllScheduledFunctions(() => {});
    const failed = await listed(who.as);
    expect(failed).toMatchObject({
      status: "failed",
      attempt: { status: "failed", error: { code: "invalid_argument", reason: "code_rejected" } },
    });
    expect(failed.attempt!.error!.message).toMatch(/rejected the authorization code/);
    expect(await tokenRows(t, who.userId)).toHaveLength(0);
    expect((await auditActions(t, who.userId)).map((a) => a.action)).toContain("connection.failed");
    // The state was consumed by the mutation: it cannot be tried again.
    await expectError(who.as.mutation(api.auth.completeOAuth, { provider: "oauth2", code, state }), "invalid_argument", /already used/);
    const retry = await who.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT });
    const back = await authorizeAt(retry.authUrl);
    await completeOAuth(t, who.as, { provider: "oauth2", code: back.code!, state: retry.state });
    expect(await listed(who.as)).toMatchObject({ status: "active", attempt: null });
  });

  test("reconnecting: the live connection keeps working while the new exchange is pending", async () => {
    const first = await started();
    await completeOAuth(t, first.who.as, { provider: "oauth2", code: first.code, state: first.state });
    const { authUrl, state } = await first.who.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT });
    const back = await authorizeAt(authUrl);
    await first.who.as.mutation(api.auth.completeOAuth, { provider: "oauth2", code: back.code!, state });
    expect(await listed(first.who.as)).toMatchObject({ status: "active", attempt: { status: "pending" } });
    expect((await first.who.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBeTruthy();
    await t.finishAllScheduledFunctions(() => {});
    expect(await listed(first.who.as)).toMatchObject({ status: "active", attempt: null });
  });

  test("the exchange runs once: a second run of the scheduled action finds nothing to exchange", async () => {
    const { who, state, code } = await started();
    await who.as.mutation(api.auth.completeOAuth, { provider: "oauth2", code, state });
    const stateId = (await t.run(async (ctx) => await ctx.db.query("oauthStates").collect()))[0]._id;
    await t.finishAllScheduledFunctions(() => {});
    let tokenCalls = 0;
    mock.service.on("beforeResponse", () => tokenCalls++);
    await t.action(internal.oauth.completeExchange, { stateId });
    expect(tokenCalls).toBe(0);
    expect(await listed(who.as)).toMatchObject({ status: "active", attempt: null });
  });

  test("only the signed-in person: anonymous → unauthenticated, a token → forbidden; nothing consumed", async () => {
    const { who, state, code } = await started();
    await expectError(t.mutation(api.auth.completeOAuth, { provider: "oauth2", code, state }), "unauthenticated");
    const pat = await insertPat(t, who.userId, []);
    await expectError(asToken(t, "pat", pat).mutation(api.auth.completeOAuth, { provider: "oauth2", code, state }), "forbidden");
    await completeOAuth(t, who.as, { provider: "oauth2", code, state });
  });
});

describe("state", () => {
  async function started(email = "alice@example.com") {
    const who = await signIn(t, email);
    const { authUrl, state } = await who.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT });
    const back = await authorizeAt(authUrl);
    return { who, state, code: back.code! };
  }

  test("replayed: a used state is refused, even with a fresh valid code", async () => {
    const { who, state, code } = await started();
    await completeOAuth(t, who.as, { provider: "oauth2", code, state });
    await expectError(completeOAuth(t, who.as, { provider: "oauth2", code, state }), "invalid_argument", /already used/);
    expect(await connectionRows(t, who.userId)).toHaveLength(1);
  });

  // Attacker: Mallory got hold of Alice's state and code (e.g. from a leaked redirect URL).
  test("from another user: refused, nothing recorded; the state stays Alice's (still single-use)", async () => {
    const { who: alice, state, code } = await started();
    const mallory = await signIn(t, "mallory@example.com");
    await expectError(completeOAuth(t, mallory.as, { provider: "oauth2", code, state }), "forbidden", /another sign-in/);
    expect(await connectionRows(t, mallory.userId)).toHaveLength(0);
    expect(await connectionRows(t, alice.userId)).toHaveLength(0);
    // The refused call wrote nothing (a mutation that throws rolls back), so
    // the state is still unused: its owner completes it, once.
    await completeOAuth(t, alice.as, { provider: "oauth2", code, state });
    expect(await tokenRows(t, alice.userId)).toHaveLength(1);
    await expectError(completeOAuth(t, mallory.as, { provider: "oauth2", code, state }), "invalid_argument", /already used/);
    expect(await connectionRows(t, mallory.userId)).toHaveLength(0);
  });

  test("for another provider: refused; the state still only works for its provider", async () => {
    process.env.KEYHOLE_GITHUB_CLIENT_ID = "gh-id";
    process.env.KEYHOLE_GITHUB_CLIENT_SECRET = "gh-secret";
    const { who, state, code } = await started();
    await expectError(completeOAuth(t, who.as, { provider: "github", code, state }), "invalid_argument", /issued for oauth2/);
    expect(await connectionRows(t, who.userId)).toHaveLength(0);
    await completeOAuth(t, who.as, { provider: "oauth2", code, state });
    await expectError(completeOAuth(t, who.as, { provider: "github", code, state }), "invalid_argument", /already used/);
    expect((await tokenRows(t, who.userId)).map((r) => r.provider)).toEqual(["oauth2"]);
  });

  test("expired: a state older than 10 minutes is refused", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { who, state, code } = await started();
    vi.setSystemTime(Date.now() + 10 * 60_000 + 1);
    await expectError(completeOAuth(t, who.as, { provider: "oauth2", code, state }), "expired");
    expect(await connectionRows(t, who.userId)).toHaveLength(0);
  });

  test("unknown state: refused", async () => {
    const { who, code } = await started();
    await expectError(completeOAuth(t, who.as, { provider: "oauth2", code, state: "A".repeat(43) }), "invalid_argument", /unknown/);
  });
});

describe("initiate checks", () => {
  test("a redirect URI that is not allowlisted exactly is refused", async () => {
    const alice = await signIn(t, "alice@example.com");
    for (const redirectUri of [
      "https://evil.example/callback",
      `${APP_REDIRECT}/extra`,
      `${APP_REDIRECT}?next=https://evil.example`,
      APP_REDIRECT.replace("127.0.0.1", "localhost"),
      `${APP_REDIRECT}/`,
    ]) {
      await expectError(
        alice.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri }),
        "invalid_argument",
        /not allowlisted/,
      );
    }
    expect(await t.run(async (ctx) => await ctx.db.query("oauthStates").collect())).toHaveLength(0);
  });

  test("an unconfigured provider is refused, naming the configured ones", async () => {
    const alice = await signIn(t, "alice@example.com");
    await expectError(
      alice.as.mutation(api.auth.initiateOAuth, { provider: "github", scopes: [], redirectUri: APP_REDIRECT }),
      "invalid_argument",
      /"github" is not configured; configured: oauth2/,
    );
    await expectError(
      alice.as.mutation(api.auth.initiateOAuth, { provider: "gitlab", scopes: [], redirectUri: APP_REDIRECT }),
      "invalid_argument",
      /configured: oauth2/,
    );
  });

  test("only a signed-in person may initiate (not a PAT, not anonymous)", async () => {
    const alice = await signIn(t, "alice@example.com");
    const pat = await insertPat(t, alice.userId, null);
    await expectError(
      asToken(t, "pat", pat).mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT }),
      "forbidden",
    );
    await expectError(t.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT }), "unauthenticated");
  });

  test("malformed scopes are refused", async () => {
    const alice = await signIn(t, "alice@example.com");
    await expectError(
      alice.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: ['bad"scope'], redirectUri: APP_REDIRECT }),
      "invalid_argument",
    );
  });
});

describe("provider errors: a clear error, nothing stored", () => {
  async function started() {
    const alice = await signIn(t, "alice@example.com");
    const { authUrl, state } = await alice.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT });
    return { alice, authUrl, state };
  }

  test("provider denies: the authorize step redirects back with error=access_denied and no code", async () => {
    const { alice, authUrl, state } = await started();
    mock.service.once("beforeAuthorizeRedirect", (r: { url: URL }) => {
      r.url.searchParams.delete("code");
      r.url.searchParams.set("error", "access_denied");
    });
    const back = await authorizeAt(authUrl);
    expect(back.error).toBe("access_denied");
    expect(back.code).toBeNull();
    await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: "", state }), "invalid_argument", /code is missing/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("provider denies at the token endpoint (access_denied) → forbidden", async () => {
    const { alice, authUrl, state } = await started();
    const back = await authorizeAt(authUrl);
    mock.service.once("beforeResponse", (res: { body: unknown; statusCode: number }) => {
      res.body = { error: "access_denied", error_description: `the user said no to ${back.code}` };
      res.statusCode = 400;
    });
    const err = await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state }), "forbidden", /denied access \(access_denied\)/);
    expect(err.message).not.toContain(back.code!); // the provider's description (echoing the code) is not passed on
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("bad code: the real server refuses a code it never issued → invalid_argument", async () => {
    const { alice, authUrl, state } = await started();
    await authorizeAt(authUrl);
    const err = await expectError(
      completeOAuth(t, alice.as, { provider: "oauth2", code: "not-a-code-the-server-issued", state }),
      "invalid_argument",
      /rejected the authorization code/,
    );
    expect(err.message).not.toContain("not-a-code");
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("bad code reported as invalid_grant → invalid_argument", async () => {
    const { alice, authUrl, state } = await started();
    const back = await authorizeAt(authUrl);
    mock.service.once("beforeResponse", (res: { body: unknown; statusCode: number }) => {
      res.body = { error: "invalid_grant" };
      res.statusCode = 400;
    });
    await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state }), "invalid_argument", /invalid_grant/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("provider unreachable → a clear error, nothing stored, state consumed", async () => {
    const { alice, authUrl, state } = await started();
    const back = await authorizeAt(authUrl);
    process.env.KEYHOLE_OAUTH2_TOKEN_URL = `http://127.0.0.1:${await deadPort()}/token`;
    await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state }), "conflict", /could not reach OAuth2/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
    process.env.KEYHOLE_OAUTH2_TOKEN_URL = `${mock.url}/token`;
    await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state }), "invalid_argument", /already used/);
  });

  test("provider answers 5xx → unreachable-style error", async () => {
    const { alice, authUrl, state } = await started();
    const back = await authorizeAt(authUrl);
    mock.service.once("beforeResponse", (res: { body: unknown; statusCode: number }) => {
      res.body = { oops: true };
      res.statusCode = 503;
    });
    await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state }), "conflict", /HTTP 503/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("malformed answer (no access_token) → a clear error", async () => {
    const { alice, authUrl, state } = await started();
    const back = await authorizeAt(authUrl);
    mock.service.once("beforeResponse", (res: { body: Record<string, unknown> }) => {
      delete res.body.access_token;
    });
    await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state }), "conflict", /malformed answer \(no access_token\)/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });

  test("user info refused → a clear error, nothing stored", async () => {
    const { alice, authUrl, state } = await started();
    const back = await authorizeAt(authUrl);
    mock.service.once("beforeUserinfo", (res: { body: unknown; statusCode: number }) => {
      res.body = { error: "invalid_token" };
      res.statusCode = 401;
    });
    await expectError(completeOAuth(t, alice.as, { provider: "oauth2", code: back.code!, state }), "conflict", /user info/);
    expect(await tokenRows(t, alice.userId)).toHaveLength(0);
  });
});
