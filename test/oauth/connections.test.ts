// Stored connections: vending fresh tokens to agents (connections:use), refresh
// with rotated refresh tokens, revocation at the provider, list hygiene,
// ciphertext integrity and key rotation. The provider is a real OAuth2 server
// on loopback (oauth2-mock-server).
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { aadFor, decryptSecret } from "../../convex/model/oauth/encryption";
import { asToken, makeTest, signIn, type TestConvex } from "../helpers/convex";
import {
  APP_REDIRECT,
  completeOAuth,
  auditActions,
  authorizeAt,
  CLIENT_ID,
  CLIENT_SECRET,
  connectionRows,
  deadPort,
  expectError,
  insertAgentSession,
  insertPat,
  mockProviderForFile,
  type MockProvider,
} from "./helpers";

let mock: MockProvider;
let t: TestConvex;
let savedKeys: string | undefined;

type TokenResponse = { body: Record<string, unknown>; statusCode: number };
type TokenRequest = IncomingMessage & { body: Record<string, string> };

mockProviderForFile((m) => (mock = m));
beforeEach(async () => {
  t = await makeTest();
  savedKeys = process.env.KEYHOLE_ENCRYPTION_KEYS;
});
afterEach(() => {
  vi.useRealTimers();
  mock.service.removeAllListeners();
  process.env.KEYHOLE_ENCRYPTION_KEYS = savedKeys;
});

/** Connects `email` to the mock provider; returns the tokens the provider issued. */
async function connect(email: string) {
  const who = await signIn(t, email);
  const issued: { access?: string; refresh?: string } = {};
  mock.service.once("beforeResponse", (res: TokenResponse) => {
    issued.access = res.body.access_token as string;
    issued.refresh = res.body.refresh_token as string;
  });
  const { authUrl, state } = await who.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT });
  const back = await authorizeAt(authUrl);
  const done = await completeOAuth(t, who.as, { provider: "oauth2", code: back.code!, state });
  return { ...who, connectionId: done.connectionId, issued: issued as { access: string; refresh: string } };
}

async function storedTokens(id: Id<"oauthConnections">) {
  const row = (await t.run(async (ctx) => await ctx.db.get(id)))!;
  return {
    row,
    access: await decryptSecret(row.accessToken, aadFor("oauthConnections", id, "accessToken")),
    refresh: row.refreshToken ? await decryptSecret(row.refreshToken, aadFor("oauthConnections", id, "refreshToken")) : undefined,
  };
}

const vendCount = async (userId: Id<"users">) =>
  (await auditActions(t, userId)).filter((a) => a.action === "connection.token_vended").length;

describe("getConnectionToken", () => {
  test("a person gets the stored access token; the vend is audited", async () => {
    const alice = await connect("alice@example.com");
    const got = await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" });
    expect(got.accessToken).toBe(alice.issued.access);
    expect(got.expiresAt).toBeGreaterThan(Date.now());
    expect(await vendCount(alice.userId)).toBe(1);
    await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" });
    expect(await vendCount(alice.userId)).toBe(2);
  });

  test("a PAT or agent session needs connections:use in its scopes", async () => {
    const alice = await connect("alice@example.com");
    const withUse = await insertPat(t, alice.userId, ["connections:use"]);
    const readOnly = await insertPat(t, alice.userId, ["connections:read"]);
    const agent = await insertAgentSession(t, alice.userId, ["connections:use"]);
    const agentWithout = await insertAgentSession(t, alice.userId, ["work:read"]);

    expect((await asToken(t, "pat", withUse).action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(alice.issued.access);
    expect((await asToken(t, "agent", agent).action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(alice.issued.access);
    await expectError(asToken(t, "pat", readOnly).action(api.oauth.getConnectionToken, { provider: "oauth2" }), "forbidden", /connections:use/);
    await expectError(asToken(t, "agent", agentWithout).action(api.oauth.getConnectionToken, { provider: "oauth2" }), "forbidden");
    await expectError(t.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "unauthenticated");

    const vends = (await auditActions(t, alice.userId)).filter((a) => a.action === "connection.token_vended");
    expect(vends.map((v) => [v.actorKind, v.actorId])).toEqual([
      ["pat", withUse],
      ["agent", agent],
    ]);
  });

  // Attacker: holds a full-role PAT or session (blank scopes or "*") and wants the owner's GitHub token.
  test("blank scopes or \"*\" are the full role except connections:use: it must be named", async () => {
    const alice = await connect("alice@example.com");
    const blank = await alice.as.mutation(api.auth.createApiToken, { name: "blank", scopes: [] });
    const star = await alice.as.mutation(api.auth.createApiToken, { name: "star", scopes: ["*"] });
    const named = await alice.as.mutation(api.auth.createApiToken, { name: "named", scopes: ["connections:use"] });
    const personSession = await alice.as.mutation(api.auth.createSession, { agentId: "full" });
    // A child of a PAT that names it still needs it named in its own scopes.
    const childBlank = await asToken(t, "pat", named.tokenId).mutation(api.auth.createSession, { agentId: "child" });
    const childNamed = await asToken(t, "pat", named.tokenId).mutation(api.auth.createSession, {
      agentId: "child2",
      scopes: ["connections:use"],
    });
    const fullRole = [asToken(t, "pat", blank.tokenId), asToken(t, "pat", star.tokenId), asToken(t, "agent", personSession.sessionId)];
    for (const who of [...fullRole, asToken(t, "agent", childBlank.sessionId)]) {
      await expectError(who.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "forbidden", /connections:use/);
    }
    // The full role still covers the rest, e.g. listing connections.
    for (const who of fullRole) expect(await who.query(api.auth.listOAuthConnections, {})).toHaveLength(1);
    expect(await vendCount(alice.userId)).toBe(0);
    for (const who of [asToken(t, "pat", named.tokenId), asToken(t, "agent", childNamed.sessionId)]) {
      expect((await who.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(alice.issued.access);
    }
    // The person herself needs no scopes.
    expect((await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(alice.issued.access);
  });

  test("a revoked PAT can no longer get tokens (next request)", async () => {
    const alice = await connect("alice@example.com");
    const pat = await insertPat(t, alice.userId, ["connections:use"]);
    await asToken(t, "pat", pat).action(api.oauth.getConnectionToken, { provider: "oauth2" });
    await t.run(async (ctx) => await ctx.db.patch(pat, { revokedAt: Date.now() }));
    await expectError(asToken(t, "pat", pat).action(api.oauth.getConnectionToken, { provider: "oauth2" }), "revoked");
  });

  test("someone else's connection is not reachable; no connection → not_found", async () => {
    await connect("alice@example.com");
    const bob = await signIn(t, "bob@example.com");
    await expectError(bob.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "not_found", /connect oauth2 first/);
    await expectError(bob.as.action(api.oauth.getConnectionToken, { provider: "nope" }), "invalid_argument", /not configured/);
  });

  test("refresh on vend: near expiry it refreshes with the stored refresh token and writes the rotated one back", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const alice = await connect("alice@example.com");
    const seen: { grant: string; refresh: string; auth?: string; fields: string[] }[] = [];
    const onRefresh = (res: TokenResponse, req: TokenRequest) => {
      seen.push({ grant: req.body.grant_type, refresh: req.body.refresh_token, auth: req.headers.authorization, fields: Object.keys(req.body).sort() });
      res.body.expires_in = 3600;
    };
    mock.service.on("beforeResponse", onRefresh);

    // More than 2 minutes left: no refresh.
    vi.setSystemTime(Date.now() + 3600_000 - 3 * 60_000);
    expect((await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(alice.issued.access);
    expect(seen).toHaveLength(0);

    // Within 2 minutes of expiry: refreshed.
    vi.setSystemTime(Date.now() + 2 * 60_000);
    const fresh = await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" });
    expect(seen).toHaveLength(1);
    expect(seen[0].grant).toBe("refresh_token");
    expect(seen[0].refresh).toBe(alice.issued.refresh);
    // Only the client's own credentials and the refresh grant go to the provider — no keyhole credential.
    expect(seen[0].auth).toBe(`Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`);
    expect(seen[0].fields).toEqual(["grant_type", "refresh_token"]);
    expect(fresh.accessToken).not.toBe(alice.issued.access);
    expect(fresh.expiresAt).toBe(Date.now() + 3600_000);

    const after = await storedTokens(alice.connectionId);
    expect(after.access).toBe(fresh.accessToken);
    expect(after.refresh).not.toBe(alice.issued.refresh); // rotated refresh token stored (encrypted)
    expect(after.row.refreshLockId).toBeUndefined();
    expect(after.row.lastRefreshedAt).toBe(Date.now());

    // The next refresh uses the rotated token.
    vi.setSystemTime(Date.now() + 3600_000 - 60_000);
    await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" });
    expect(seen).toHaveLength(2);
    expect(seen[1].refresh).toBe(after.refresh);

    const actions = (await auditActions(t, alice.userId)).map((a) => a.action);
    expect(actions.filter((a) => a === "connection.token_refreshed")).toHaveLength(2);
    expect(actions.filter((a) => a === "connection.token_vended")).toHaveLength(3);
  });

  test("a refresh the provider rejects marks the connection for reconnection", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const alice = await connect("alice@example.com");
    vi.setSystemTime(Date.now() + 3600_000 + 1);
    let calls = 0;
    mock.service.on("beforeResponse", (res: TokenResponse) => {
      calls++;
      res.statusCode = 400;
      res.body = { error: "invalid_grant" };
    });
    await expectError(alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "expired", /reconnect oauth2/);
    expect(calls).toBe(1);
    const list = await alice.as.query(api.auth.listOAuthConnections, {});
    expect(list[0].status).toBe("needs_reconnect");
    // No more calls to the provider until reconnected.
    await expectError(alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "expired");
    expect(calls).toBe(1);
  });

  test("a refresh that cannot reach the provider fails clearly and releases the lock", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const alice = await connect("alice@example.com");
    vi.setSystemTime(Date.now() + 3600_000 + 1);
    process.env.KEYHOLE_OAUTH2_TOKEN_URL = `http://127.0.0.1:${await deadPort()}/token`;
    try {
      await expectError(alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "conflict", /could not reach/);
    } finally {
      process.env.KEYHOLE_OAUTH2_TOKEN_URL = `${mock.url}/token`;
    }
    expect((await storedTokens(alice.connectionId)).row.refreshLockId).toBeUndefined();
    // Works again once the provider is back.
    const got = await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" });
    expect(got.accessToken).not.toBe(alice.issued.access);
  });
});

describe("listOAuthConnections", () => {
  test("never shows a secret", async () => {
    const alice = await connect("alice@example.com");
    const vended = await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" });
    const list = await alice.as.query(api.auth.listOAuthConnections, {});
    expect(list).toHaveLength(1);
    expect(Object.keys(list[0]).sort()).toEqual(
      ["_id", "accountId", "accountLogin", "attempt", "canRefresh", "createdAt", "expiresAt", "lastRefreshedAt", "lastUsedAt", "provider", "scopes", "status", "updatedAt"].sort(),
    );
    const text = JSON.stringify(list);
    const row = (await connectionRows(t, alice.userId))[0];
    for (const secret of [alice.issued.access, alice.issued.refresh, vended.accessToken, row.accessToken, row.refreshToken!, "v1.k1."]) {
      expect(text).not.toContain(secret);
    }
    expect(list[0]).toMatchObject({ provider: "oauth2", accountId: "johndoe", status: "active", canRefresh: true });
  });

  test("tokens need connections:read; another user sees nothing", async () => {
    const alice = await connect("alice@example.com");
    const readPat = await insertPat(t, alice.userId, ["connections:read"]);
    const workPat = await insertPat(t, alice.userId, ["work:read"]);
    expect(await asToken(t, "pat", readPat).query(api.auth.listOAuthConnections, {})).toHaveLength(1);
    await expectError(asToken(t, "pat", workPat).query(api.auth.listOAuthConnections, {}), "forbidden");
    const bob = await signIn(t, "bob@example.com");
    expect(await bob.as.query(api.auth.listOAuthConnections, {})).toEqual([]);
  });
});

describe("revokeOAuth", () => {
  test("calls the provider's revocation endpoint with the stored tokens and deletes them; idempotent", async () => {
    const alice = await connect("alice@example.com");
    const revoked: { body: string; auth?: string }[] = [];
    mock.service.on("beforeRevoke", (_res: { statusCode: number }, req: IncomingMessage) => {
      const rec = { body: "", auth: req.headers.authorization };
      revoked.push(rec);
      req.on("data", (c: Buffer) => (rec.body += c.toString()));
    });
    const out = await alice.as.action(api.auth.revokeOAuth, { provider: "oauth2" });
    expect(out).toEqual({ revoked: true, connectionId: alice.connectionId, providerRevoked: true });
    await vi.waitFor(() => expect(revoked.map((r) => r.body).join("")).toContain("token_type_hint=access_token"));
    const bodies = revoked.map((r) => new URLSearchParams(r.body));
    expect(bodies.map((b) => [b.get("token_type_hint"), b.get("token")])).toEqual([
      ["refresh_token", alice.issued.refresh],
      ["access_token", alice.issued.access],
    ]);
    expect(revoked[0].auth).toMatch(/^Basic /);

    expect(await connectionRows(t, alice.userId)).toHaveLength(0);
    expect(await alice.as.query(api.auth.listOAuthConnections, {})).toEqual([]);
    await expectError(alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "not_found");
    expect((await auditActions(t, alice.userId)).map((a) => a.action)).toContain("connection.revoked");

    // Again: nothing to do, no provider call.
    const n = revoked.length;
    expect(await alice.as.action(api.auth.revokeOAuth, { provider: "oauth2" })).toEqual({ revoked: false, connectionId: null, providerRevoked: null });
    expect(revoked.length).toBe(n);
  });

  test("a failing revocation endpoint still deletes the tokens locally (best effort), logging no secret", async () => {
    const alice = await connect("alice@example.com");
    mock.service.on("beforeRevoke", (res: { statusCode: number }) => {
      res.statusCode = 503;
    });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const out = await alice.as.action(api.auth.revokeOAuth, { provider: "oauth2" });
      expect(out).toMatchObject({ revoked: true, providerRevoked: false });
      const logged = warn.mock.calls.flat().join(" ");
      expect(logged).toMatch(/revocation at oauth2 failed/);
      expect(logged).not.toContain(alice.issued.access);
      expect(logged).not.toContain(alice.issued.refresh);
      expect(logged).not.toContain(CLIENT_SECRET);
    } finally {
      warn.mockRestore();
    }
    expect(await connectionRows(t, alice.userId)).toHaveLength(0);
  });

  test("only a signed-in person may revoke", async () => {
    const alice = await connect("alice@example.com");
    const pat = await insertPat(t, alice.userId, null);
    await expectError(asToken(t, "pat", pat).action(api.auth.revokeOAuth, { provider: "oauth2" }), "forbidden");
    expect(await connectionRows(t, alice.userId)).toHaveLength(1);
  });
});

describe("ciphertext integrity", () => {
  test("a tampered ciphertext fails to decrypt: a clear error, no token", async () => {
    const alice = await connect("alice@example.com");
    await t.run(async (ctx) => {
      const row = (await ctx.db.get(alice.connectionId))!;
      const [v, id, iv, ct] = row.accessToken.split(".");
      const b = Buffer.from(ct, "base64url");
      b[5] ^= 0x80;
      await ctx.db.patch(row._id, { accessToken: [v, id, iv, b.toString("base64url")].join(".") });
    });
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await expectError(alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "conflict", /could not be decrypted/);
    } finally {
      err.mockRestore();
    }
    expect(await vendCount(alice.userId)).toBe(0);
  });

  test("a ciphertext moved to another row fails to decrypt", async () => {
    const alice = await connect("alice@example.com");
    const bob = await connect("bob@example.com");
    await t.run(async (ctx) => {
      const a = (await ctx.db.get(alice.connectionId))!;
      await ctx.db.patch(bob.connectionId, { accessToken: a.accessToken, refreshToken: a.refreshToken });
    });
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await expectError(bob.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "conflict", /could not be decrypted/);
    } finally {
      err.mockRestore();
    }
    // Alice's own row still works.
    expect((await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(alice.issued.access);
  });
});

describe("key rotation", () => {
  test("add a key first, old rows stay readable, re-encrypt moves them, then the old key can go", async () => {
    const oldKeys = process.env.KEYHOLE_ENCRYPTION_KEYS!; // "k1:<…>"
    const alice = await connect("alice@example.com");
    const bob = await connect("bob@example.com");
    expect((await storedTokens(alice.connectionId)).row.keyId).toBe("k1");

    process.env.KEYHOLE_ENCRYPTION_KEYS = `k2:${randomBytes(32).toString("base64")},${oldKeys}`;
    expect(await t.query(internal.oauth.encryptionStatus, {})).toEqual({
      currentKeyId: "k2",
      rowsByKey: [
        { keyId: "k2", rows: 0 },
        { keyId: "k1", rows: 2 },
      ],
    });

    // Batches of one: the mutation schedules itself until done.
    const first = await t.mutation(internal.oauth.reencryptConnections, { batchSize: 1 });
    expect(first).toMatchObject({ reencrypted: 1, more: true });
    await t.finishAllScheduledFunctions(() => {});
    expect((await t.query(internal.oauth.encryptionStatus, {})).rowsByKey).toEqual([
      { keyId: "k2", rows: 2 },
      { keyId: "k1", rows: 0 },
    ]);
    const a = await storedTokens(alice.connectionId);
    expect(a.row.keyId).toBe("k2");
    expect(a.row.accessToken.startsWith("v1.k2.")).toBe(true);
    expect(a.row.refreshToken!.startsWith("v1.k2.")).toBe(true);
    expect(a.access).toBe(alice.issued.access);
    expect(a.refresh).toBe(alice.issued.refresh);

    // Drop k1: everything still works.
    process.env.KEYHOLE_ENCRYPTION_KEYS = process.env.KEYHOLE_ENCRYPTION_KEYS.split(",")[0];
    expect((await bob.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(bob.issued.access);
  });

  test("after a rotation, using a connection re-encrypts it and sweeps the rest in the background", async () => {
    const oldKeys = process.env.KEYHOLE_ENCRYPTION_KEYS!;
    const alice = await connect("alice@example.com");
    const bob = await connect("bob@example.com");
    process.env.KEYHOLE_ENCRYPTION_KEYS = `k2:${randomBytes(32).toString("base64")},${oldKeys}`;
    // Still readable under k1; this vend re-encrypts alice's row and schedules the sweep.
    expect((await alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(alice.issued.access);
    expect((await storedTokens(alice.connectionId)).row.keyId).toBe("k2");
    await t.finishAllScheduledFunctions(() => {});
    expect((await storedTokens(bob.connectionId)).row.keyId).toBe("k2");
    expect((await storedTokens(bob.connectionId)).refresh).toBe(bob.issued.refresh);
    process.env.KEYHOLE_ENCRYPTION_KEYS = process.env.KEYHOLE_ENCRYPTION_KEYS.split(",")[0];
    expect((await bob.as.action(api.oauth.getConnectionToken, { provider: "oauth2" })).accessToken).toBe(bob.issued.access);
  });

  test("re-encryption marks a row it cannot authenticate for reconnection instead of looping on it", async () => {
    const oldKeys = process.env.KEYHOLE_ENCRYPTION_KEYS!;
    const alice = await connect("alice@example.com");
    await t.run(async (ctx) => {
      const row = (await ctx.db.get(alice.connectionId))!;
      await ctx.db.patch(row._id, { accessToken: row.accessToken.slice(0, -2) + (row.accessToken.endsWith("AA") ? "BB" : "AA") });
    });
    process.env.KEYHOLE_ENCRYPTION_KEYS = `k2:${randomBytes(32).toString("base64")},${oldKeys}`;
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await t.mutation(internal.oauth.reencryptConnections, {})).toEqual({ reencrypted: 0, unreadable: 1, more: false });
    } finally {
      err.mockRestore();
    }
    const list = await alice.as.query(api.auth.listOAuthConnections, {});
    expect(list[0].status).toBe("needs_reconnect");
    await expectError(alice.as.action(api.oauth.getConnectionToken, { provider: "oauth2" }), "expired", /reconnect/);
  });
});
