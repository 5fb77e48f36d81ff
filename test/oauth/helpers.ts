// Shared fixtures for the OAuth tests: a real OAuth2 server on loopback
// (oauth2-mock-server) as the generic provider, small node:http stubs where
// GitHub's and Slack's answers differ, env wiring, and a "browser" that
// follows the provider's authorize redirect.
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { OAuth2Server } from "oauth2-mock-server";
import { ConvexError } from "convex/values";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { afterAll, beforeAll, expect } from "vitest";
import type { TestConvex } from "../helpers/convex";

export const APP_REDIRECT = "http://127.0.0.1:5173/connections/callback";
export const CLIENT_ID = "keyhole-test-client";
export const CLIENT_SECRET = "client-secret-do-not-leak";

const OAUTH_ENV_PREFIXES = ["KEYHOLE_OAUTH2_", "KEYHOLE_GITHUB_", "KEYHOLE_SLACK_", "KEYHOLE_OAUTH_REDIRECT_URIS"];

export function clearOAuthEnv(): void {
  for (const k of Object.keys(process.env)) if (OAUTH_ENV_PREFIXES.some((p) => k.startsWith(p))) delete process.env[k];
}

/** Asserts that `p` fails with a keyhole error `code` (and a message matching `message`); returns its data. */
export async function expectError(p: Promise<unknown>, code: string, message?: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "expected the call to fail").not.toBeNull();
  const data = (err as { data?: { code?: string; message?: string } }).data;
  expect(data?.code).toBe(code);
  if (message) expect(data?.message).toMatch(message);
  return data!;
}

/** The mock server as the `oauth2` provider. */
export async function startMockProvider(opts: { pkce?: boolean } = {}) {
  const server = new OAuth2Server();
  await server.issuer.keys.generate("RS256");
  await server.start(0, "127.0.0.1");
  const url = server.issuer.url!;
  process.env.KEYHOLE_OAUTH2_CLIENT_ID = CLIENT_ID;
  process.env.KEYHOLE_OAUTH2_CLIENT_SECRET = CLIENT_SECRET;
  process.env.KEYHOLE_OAUTH2_AUTHORIZE_URL = `${url}/authorize`;
  process.env.KEYHOLE_OAUTH2_TOKEN_URL = `${url}/token`;
  process.env.KEYHOLE_OAUTH2_REVOCATION_URL = `${url}/revoke`;
  process.env.KEYHOLE_OAUTH2_USERINFO_URL = `${url}/userinfo`;
  process.env.KEYHOLE_OAUTH2_DEFAULT_SCOPES = "openid profile";
  process.env.KEYHOLE_OAUTH2_PKCE = opts.pkce === false ? "false" : "true";
  process.env.KEYHOLE_OAUTH_REDIRECT_URIS = APP_REDIRECT;
  return { server, url, service: server.service };
}

export type MockProvider = Awaited<ReturnType<typeof startMockProvider>>;

/** The test file's mock provider: started before its tests (the env points at it), stopped after them (env cleared). */
export function mockProviderForFile(started?: (mock: MockProvider) => void): void {
  let mock: MockProvider | undefined;
  beforeAll(async () => {
    mock = await startMockProvider();
    started?.(mock);
  });
  afterAll(async () => {
    await mock?.server.stop();
    clearOAuthEnv();
  });
}

/** Plays the browser at the provider: GET authUrl, read the redirect back to us. */
export async function authorizeAt(authUrl: string): Promise<{ location: URL; code: string | null; state: string | null; error: string | null }> {
  const res = await fetch(authUrl, { redirect: "manual" });
  const loc = res.headers.get("location");
  if (res.status !== 302 || !loc) throw new Error(`authorize did not redirect: HTTP ${res.status} ${await res.text()}`);
  const location = new URL(loc);
  return {
    location,
    code: location.searchParams.get("code"),
    state: location.searchParams.get("state"),
    error: location.searchParams.get("error"),
  };
}

let resetting: Promise<number> | undefined;

/**
 * A port where no HTTP answer ever comes: a loopback server that resets every
 * connection, held (unref'd) until the test process exits. A port bound and
 * released instead could be taken by any other process before the request.
 */
export function deadPort(): Promise<number> {
  resetting ??= new Promise((resolve) => {
    const s = net.createServer((socket) => socket.resetAndDestroy());
    s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port));
    s.unref();
  });
  return resetting;
}

export type Recorded = { method: string; path: string; headers: http.IncomingHttpHeaders; body: string };

/** A tiny JSON server on loopback; `routes` answers by "METHOD /path". Records every request. */
export async function startStub(
  routes: Record<string, (req: Recorded) => { status?: number; json?: unknown; type?: string; body?: string }>,
) {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const rec: Recorded = { method: req.method ?? "", path, headers: req.headers, body };
      requests.push(rec);
      const handler = routes[`${req.method} ${path}`];
      if (!handler) {
        res.writeHead(404, { "Content-Type": "application/json" }).end('{"message":"Not Found"}');
        return;
      }
      const out = handler(rec);
      if (out.json !== undefined) {
        res.writeHead(out.status ?? 200, { "Content-Type": out.type ?? "application/json" }).end(JSON.stringify(out.json));
      } else {
        res.writeHead(out.status ?? 200, { "Content-Type": out.type ?? "text/plain" }).end(out.body ?? "");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Raw connection rows of a user (test-only direct read). */
export async function connectionRows(t: TestConvex, userId: Id<"users">) {
  return await t.run(async (ctx) =>
    await ctx.db
      .query("oauthConnections")
      .withIndex("by_user_provider", (q) => q.eq("userId", userId))
      .collect(),
  );
}

export async function auditActions(t: TestConvex, userId: Id<"users">) {
  return await t.run(async (ctx) =>
    (await ctx.db
      .query("auditEvents")
      .withIndex("by_user_at", (q) => q.eq("userId", userId))
      .collect()).map((e) => ({ action: e.action, actorKind: e.actorKind, actorId: e.actorId, details: e.details })),
  );
}

/** Inserts a PAT record directly (the token text is not needed: convex-test presents identities). */
export async function insertPat(t: TestConvex, userId: Id<"users">, permissions: string[] | null) {
  return await t.run(async (ctx) =>
    await ctx.db.insert("apiTokens", {
      userId,
      name: `pat-${Math.floor(performance.now())}-${permissions?.join("+") ?? "all"}`,
      type: "PAT",
      scopes: permissions === null ? [] : [{ permissions }],
      tokenHash: `hash-${performance.now()}`,
      keyId: "kh-test",
      createdAt: Date.now(),
      expiresAt: Date.now() + 3600_000,
    }),
  );
}

export async function insertAgentSession(t: TestConvex, userId: Id<"users">, permissions: string[]) {
  return await t.run(async (ctx) =>
    await ctx.db.insert("agentSessions", {
      userId,
      agentId: "agent-1",
      familyId: `fam-${performance.now()}`,
      scopes: [{ permissions }],
      tokenHash: `th-${performance.now()}`,
      refreshHash: `rh-${performance.now()}`,
      createdAt: Date.now(),
      expiresAt: Date.now() + 3600_000,
      familyExpiresAt: Date.now() + 86_400_000,
    }),
  );
}

/** Connection rows that hold tokens (a failed or pending completeOAuth leaves a row without any). */
export async function tokenRows(t: TestConvex, userId: Id<"users">) {
  return (await connectionRows(t, userId)).filter((r) => r.accessToken !== "");
}

type Accessor = ReturnType<TestConvex["withIdentity"]>;

/**
 * completeOAuth as a client calls it (a mutation that schedules the code
 * exchange), then the exchange; returns the outcome the connection record
 * shows. A failed exchange is thrown as the ConvexError({code, message}) it
 * recorded, so tests can assert it like any other refusal.
 */
export async function completeOAuth(
  t: TestConvex,
  as: Accessor,
  args: { provider: string; code: string; state: string },
) {
  const started = await as.mutation(api.auth.completeOAuth, args);
  expect(started.expiresAt).toBeNull(); // known only once the provider has answered
  await t.finishAllScheduledFunctions(() => {});
  const row = (await t.run(async (ctx) => await ctx.db.get("oauthConnections", started.connectionId)))!;
  const error = row.attempt?.status === "failed" ? row.attempt.error : undefined;
  if (error) throw new ConvexError({ code: error.code, message: error.message });
  expect(row.attempt).toBeUndefined();
  return { connectionId: started.connectionId, provider: started.provider, scopes: row.scopes, expiresAt: row.expiresAt ?? null };
}
