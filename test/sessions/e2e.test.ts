// Agent sessions and web sessions end to end: the official clients
// (ConvexHttpClient, ConvexClient), unmodified, against the embedded backend
// in a child process. Real password sign-ups, real ES256 session JWTs.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { codeOf as outcome } from "../helpers/errors";
import { rotateWith } from "../helpers/refresh";
import { passwordSignIn, signUpFresh } from "../helpers/signup";

let b: SpawnedBackend;
beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  await b?.stop();
});

const signUp = () => signUpFresh(b, "s");
let orgs = 0;

function clientWith(token: string): ConvexHttpClient {
  const c = new ConvexHttpClient(b.url, { logger: false });
  c.setAuth(token);
  return c;
}

/** A person with an org, a workspace, one item, and a PAT that may read and write there. */
async function personWithPat() {
  const me = await signUp();
  const person = clientWith(me.token);
  const org = `o${++orgs}-${Date.now().toString(36)}`;
  await person.mutation(api.orgs.create, { slug: org, name: "Acme" });
  await person.mutation(api.workspaces.create, { org, slug: "site", name: "Site" });
  const workspace = `${org}/site`;
  await person.mutation(api.items.put, { workspace, name: "Signal/temp-1", data: { c: 21 } });
  const pat = await person.mutation(api.auth.createApiToken, {
    name: "ci",
    scopes: [`${workspace}=work:read,work:write`],
  });
  return { me, person, org, workspace, pat };
}

describe("agent sessions with real clients", () => {
  test("the full flow: PAT → session → allowed/denied → refresh → reuse → end", async () => {
    const { person, workspace, pat } = await personWithPat();
    const anyone = new ConvexHttpClient(b.url, { logger: false });

    // createSession with the PAT, narrower than the PAT (read only).
    const s1 = await clientWith(pat.token).mutation(api.auth.createSession, {
      agentId: "claude:task-17",
      ttl: 600,
      scopes: [`${workspace}=work:read`],
      metadata: { platform: "linux", purpose: "e2e" },
    });
    const agent1 = new ConvexHttpClient(b.url, { logger: false });
    agent1.setAuth(s1.token);
    expect(await agent1.query(api.auth.viewer, {})).toMatchObject({ kind: "agent", agentId: "claude:task-17" });
    // Allowed: read. Denied: write — the PAT has it, the session does not.
    expect(await agent1.query(api.items.get, { workspace, name: "Signal/temp-1" })).toMatchObject({ data: { c: 21 } });
    expect(await outcome(agent1.mutation(api.items.put, { workspace, name: "Signal/temp-1", data: { c: 0 } }))).toBe(
      "forbidden",
    );
    // The PAT itself may write, so it really is the session's scope that refused.
    await clientWith(pat.token).mutation(api.items.put, { workspace, name: "Signal/temp-2", data: 1 });
    expect(await anyone.query(api.auth.validateSession, { token: s1.token })).toMatchObject({
      valid: true,
      agentId: "claude:task-17",
      metadata: { platform: "linux", purpose: "e2e" },
    });

    // Refresh: the old token is refused at once, the new one works.
    const s2 = await rotateWith(anyone, s1.refreshToken);
    expect(await outcome(agent1.query(api.items.get, { workspace, name: "Signal/temp-1" }))).toBe("revoked");
    const agent2 = clientWith(s2.token);
    expect(await agent2.query(api.items.get, { workspace, name: "Signal/temp-1" })).not.toBeNull();
    expect(await outcome(agent2.mutation(api.items.put, { workspace, name: "x", data: 1 }))).toBe("forbidden");

    // Replay the old refresh token: the whole family is refused.
    expect(await outcome(rotateWith(anyone, s1.refreshToken))).toBe("revoked");
    expect(await outcome(agent2.query(api.items.get, { workspace, name: "Signal/temp-1" }))).toBe("revoked");
    expect(await outcome(rotateWith(anyone, s2.refreshToken))).toBe("revoked");
    expect((await anyone.query(api.auth.validateSession, { token: s2.token })).valid).toBe(false);
    // The owner sees it in the audit log.
    const log = await person.query(api.audit.list, { paginationOpts: { numItems: 50, cursor: null } });
    const actions = log.page.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["session.created", "session.refreshed", "session.reuse_detected"]));

    // A new session, ended: refused on its next call.
    const s3 = await clientWith(pat.token).mutation(api.auth.createSession, { agentId: "claude:task-18" });
    const agent3 = clientWith(s3.token);
    expect(await agent3.query(api.auth.viewer, {})).toMatchObject({ kind: "agent" });
    expect(await person.query(api.sessions.listAgentSessions, {})).toEqual([
      expect.objectContaining({ _id: s3.sessionId, agentId: "claude:task-18", parentTokenId: pat.tokenId }),
    ]);
    await anyone.mutation(api.auth.endSession, { token: s3.token });
    expect(await outcome(agent3.query(api.auth.viewer, {}))).toBe("revoked");
    expect(await outcome(rotateWith(anyone, s3.refreshToken))).toBe("revoked");
    expect(await person.query(api.sessions.listAgentSessions, {})).toEqual([]);
  });

  test("child sessions die when their PAT is revoked", async () => {
    const { person, workspace, pat } = await personWithPat();
    const patClient = clientWith(pat.token);
    const a = await patClient.mutation(api.auth.createSession, { agentId: "a" });
    const c = await patClient.mutation(api.auth.createSession, { agentId: "c" });
    const agentA = clientWith(a.token);
    const agentC = clientWith(c.token);
    await agentA.query(api.items.get, { workspace, name: "Signal/temp-1" });
    await agentC.mutation(api.items.put, { workspace, name: "Signal/by-child", data: 1 });

    const res = await person.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId });
    expect(res.sessionsEnded).toBe(2);
    expect(await outcome(agentA.query(api.items.get, { workspace, name: "Signal/temp-1" }))).toBe("revoked");
    expect(await outcome(agentC.mutation(api.items.put, { workspace, name: "x", data: 1 }))).toBe("revoked");
    expect(await outcome(rotateWith(new ConvexHttpClient(b.url), a.refreshToken))).toBe(
      "revoked",
    );
  });

  test("concurrent refreshes of one refresh token: at most one succeeds", async () => {
    const { pat } = await personWithPat();
    const s = await clientWith(pat.token).mutation(api.auth.createSession, { agentId: "racer" });
    // Four independent clients (two HTTP, two WebSocket) race with the same refresh token.
    const ws1 = b.client();
    const ws2 = b.client();
    const results = await Promise.all([
      new ConvexHttpClient(b.url, { logger: false }).mutation(api.auth.refreshSession, { refreshToken: s.refreshToken }),
      new ConvexHttpClient(b.url, { logger: false }).mutation(api.auth.refreshSession, { refreshToken: s.refreshToken }),
      ws1.mutation(api.auth.refreshSession, { refreshToken: s.refreshToken }),
      ws2.mutation(api.auth.refreshSession, { refreshToken: s.refreshToken }),
    ]);
    const won = results.filter((r) => r.ok);
    const lost = results.filter((r) => !r.ok);
    expect(won.length).toBeLessThanOrEqual(1);
    expect(lost.length).toBeGreaterThanOrEqual(3);
    for (const r of lost) expect(r).toMatchObject({ ok: false, code: "revoked" });
    // The losers were reuse: nothing of the family is left alive.
    for (const pair of won) {
      expect((await new ConvexHttpClient(b.url).query(api.auth.validateSession, { token: pair.token })).valid).toBe(false);
    }
  });

  test("a session minted by a signed-in person works on ConvexClient with a refreshing fetchToken", async () => {
    const me = await signUp();
    const s = await clientWith(me.token).mutation(api.auth.createSession, { agentId: "ws-agent", ttl: 60 });
    let current = s;
    const refreshed: string[] = [];
    const anyone = new ConvexHttpClient(b.url, { logger: false });
    // Rotating ends the old session token at once, so a query still running as
    // it fails ("this agent session has ended"). By default ConvexClient asks
    // for a fresh token (forceRefreshToken) the moment the server confirms the
    // first one — possibly before the first query's result, which then ran as
    // the rotated-away session: the flake of issue 19. initialAuthTokenReuse
    // keeps the confirmed token until its scheduled refresh (60 s - 55 s
    // leeway), when no query is in flight; later forced refreshes return the
    // successor's token (still valid), so exactly one rotation happens.
    const c = new ConvexClient(b.url, {
      webSocketConstructor: WebSocket as unknown as typeof globalThis.WebSocket,
      logger: false,
      unsavedChangesWarning: false,
      authRefreshTokenLeewaySeconds: 55,
      initialAuthTokenReuse: true,
    });
    try {
      c.setAuth(async ({ forceRefreshToken }) => {
        if (forceRefreshToken && refreshed.length === 0) {
          current = await rotateWith(anyone, current.refreshToken);
          refreshed.push(current.sessionId);
        }
        return current.token;
      });
      expect(await c.query(api.auth.viewer, {})).toMatchObject({ kind: "agent", sessionId: s.sessionId });
      const deadline = Date.now() + 15_000;
      while (refreshed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(refreshed.length).toBeGreaterThanOrEqual(1);
      // Once the client has re-authenticated, calls run as the successor session.
      let viewer = await c.query(api.auth.viewer, {});
      while (viewer.sessionId === s.sessionId && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        viewer = await c.query(api.auth.viewer, {});
      }
      expect(viewer).toMatchObject({ kind: "agent", agentId: "ws-agent", sessionId: current.sessionId });
      expect((await anyone.query(api.auth.validateSession, { token: s.token })).valid).toBe(false);
    } finally {
      await c.close();
    }
  });
});

describe("web sessions with real clients", () => {
  test("device list and sign-out-others: the signed-out client's next call fails", async () => {
    const first = await signUp();
    const second = await passwordSignIn(b, first.email);
    const laptop = clientWith(first.token);
    const phone = clientWith(second.token);

    const rec1 = await laptop.mutation(api.auth.createWebSession, { userAgent: "Laptop/1.0" });
    const rec2 = await phone.mutation(api.auth.createWebSession, { userAgent: "Phone/2.0" });
    expect(rec1.authSessionId).not.toBe(rec2.authSessionId);
    // The backend's request metadata wins over the arguments: the client's real IP is recorded.
    expect(rec1.ipAddress).toMatch(/127\.0\.0\.1|::1|::ffff:127\.0\.0\.1/);

    const devices = await laptop.query(api.sessions.listDevices, {});
    expect(devices).toHaveLength(2);
    expect(devices.find((d) => d.current)!.authSessionId).toBe(rec1.authSessionId);
    expect(devices.find((d) => !d.current)!.authSessionId).toBe(rec2.authSessionId);
    expect((await phone.query(api.auth.validateWebSession, { sessionId: rec2.sessionId })).current).toBe(true);

    // The phone also holds a live subscription that read its sign-in record.
    const watcher = b.client();
    watcher.setAuth(async () => second.token);
    const errors: unknown[] = [];
    let updates = 0;
    const gotFirst = new Promise<void>((resolve) => {
      watcher.onUpdate(
        api.sessions.listDevices,
        {},
        () => {
          updates++;
          resolve();
        },
        (e) => errors.push(e),
      );
    });
    await gotFirst;

    expect(await laptop.mutation(api.sessions.signOutOtherDevices, {})).toEqual({ signedOut: 1 });
    expect(await outcome(phone.query(api.sessions.listDevices, {}))).toBe("unauthenticated");
    expect(await outcome(phone.query(api.users.me, {}))).toBe("unauthenticated");
    // Its refresh token no longer gets a new JWT.
    const again = (await b.httpClient().action(api.auth.signIn, { refreshToken: second.refreshToken })) as {
      tokens: unknown;
    };
    expect(again.tokens).toBeNull();
    // The live query re-ran and failed.
    const deadline = Date.now() + 10_000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(errors.length).toBeGreaterThan(0);
    expect(updates).toBeGreaterThanOrEqual(1);

    // The laptop is unaffected and now alone.
    expect(await laptop.query(api.sessions.listDevices, {})).toEqual([
      expect.objectContaining({ authSessionId: rec1.authSessionId, current: true }),
    ]);
  });

  test("sign out one device by id", async () => {
    const first = await signUp();
    const second = await passwordSignIn(b, first.email);
    const laptop = clientWith(first.token);
    const phone = clientWith(second.token);
    const rec2 = await phone.mutation(api.auth.createWebSession, {});
    await laptop.mutation(api.sessions.signOutDevice, { authSessionId: rec2.authSessionId });
    expect(await outcome(phone.query(api.users.me, {}))).toBe("unauthenticated");
    expect((await laptop.query(api.auth.validateWebSession, { sessionId: rec2.sessionId })).valid).toBe(false);
    expect(await laptop.query(api.users.me, {})).toMatchObject({ email: first.email });
  });
});
