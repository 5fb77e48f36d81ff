// Grants (convex/model/oauthServer/grants.ts), each rule pinned by a test that
// fails when it breaks (mutation testing, docs/mutation-survivors.md): the
// audience a grant's tokens are bound to, revocation marking and its audit,
// what the connected-apps list shows, disconnect refusals, and how long grant
// rows are kept. Controlled clock (vi fake timers) and explicit times only.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import type { Doc } from "../../convex/_generated/dataModel";
import { audienceAllows, reapGrants } from "../../convex/model/oauthServer/grants";
import { REFRESH_GRACE_MS } from "../../convex/model/oauthServer/config";
import type { TestConvex } from "../helpers/convex";
import { API, grant, grants, liveSessions, MCP, REDIRECT, refresh, registerPublic, setup } from "./flow";

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const DAY = 24 * 3600_000;

afterEach(() => {
  vi.useRealTimers();
});

async function sessionRows(t: TestConvex): Promise<Doc<"agentSessions">[]> {
  return await t.run(async (ctx) => await ctx.db.query("agentSessions").collect());
}

async function auditOf(t: TestConvex, action: string) {
  return await t.run(async (ctx) => (await ctx.db.query("auditEvents").collect()).filter((e) => e.action === action));
}

describe("audience (RFC 8707)", () => {
  test("a token issued for the MCP endpoint is refused at the HTTP API and the other way round", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    await grant(t, alice.as, clientId, { resource: MCP });
    await grant(t, alice.as, clientId, { resource: API });
    const [forMcp, forApi] = await sessionRows(t);
    expect([forMcp.audience, forApi.audience]).toEqual([MCP, API]);
    expect(audienceAllows(forMcp, MCP)).toBe(true);
    expect(audienceAllows(forMcp, API)).toBe(false);
    expect(audienceAllows(forApi, API)).toBe(true);
    expect(audienceAllows(forApi, MCP)).toBe(false);
  });

  test("a session that is no OAuth grant (no audience) is allowed at either resource", async () => {
    const { t, alice } = await setup();
    await alice.as.mutation(api.auth.createSession, { agentId: "plain" });
    const [plain] = await sessionRows(t);
    expect(plain.audience).toBeUndefined();
    expect(audienceAllows(plain, MCP)).toBe(true);
    expect(audienceAllows(plain, API)).toBe(true);
  });
});

describe("revocation marks the grant", () => {
  test("disconnect records the revocation time and reason on the grant, audited with client and sessions ended", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const clientId = await registerPublic(t, "N".repeat(100));
    await grant(t, alice.as, clientId);
    const [g] = await grants(t);
    vi.setSystemTime(T0 + 5000);
    expect(await alice.as.mutation(api.oauthServer.disconnectApp, { grantId: g._id })).toEqual({ sessionsEnded: 1 });
    expect((await grants(t))[0]).toMatchObject({ revokedAt: T0 + 5000, revokedReason: "disconnected" });
    const [event] = await auditOf(t, "oauth.grant_revoked");
    // The client's name is cut to 80 characters in the audit line.
    expect(event).toMatchObject({ targetType: "oauthGrant", targetId: g._id, details: `client=${"N".repeat(80)} reason=disconnected sessionsEnded=1` });
  });

  test("a grant revoked twice keeps its first revocation: the client's revoke is not overwritten by a later disconnect", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const clientId = await registerPublic(t);
    const tokens = await grant(t, alice.as, clientId);
    vi.setSystemTime(T0 + 1000);
    await t.mutation(internal.oauthServer.revokeToken, { client: { clientId, method: "none" }, token: tokens.refresh_token });
    const [g] = await grants(t);
    expect(g).toMatchObject({ revokedAt: T0 + 1000, revokedReason: "revoked_by_client" });
    vi.setSystemTime(T0 + 2000);
    expect(await alice.as.mutation(api.oauthServer.disconnectApp, { grantId: g._id })).toEqual({ sessionsEnded: 0 });
    expect((await grants(t))[0]).toMatchObject({ revokedAt: T0 + 1000, revokedReason: "revoked_by_client" });
  });
});

describe("connected apps", () => {
  test("an app whose sessions were all ended elsewhere (the sessions panel) is no longer listed as holding access", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    await grant(t, alice.as, clientId);
    const [row] = await liveSessions(t);
    await alice.as.mutation(api.sessions.endAgentSession, { sessionId: row._id });
    expect((await grants(t))[0].revokedAt).toBeUndefined();
    expect(await alice.as.query(api.oauthServer.listConnectedApps, {})).toEqual([]);
  });

  test("last use: null until used, then the newest use across the grant's live sessions", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const clientId = await registerPublic(t);
    const first = await grant(t, alice.as, clientId);
    const list = async () => (await alice.as.query(api.oauthServer.listConnectedApps, {}))[0];
    expect((await list()).lastUsedAt).toBeNull();
    // Two live sessions in the grant: a rotation and a sibling inside the grace window.
    expect((await refresh(t, clientId, first.refresh_token)).ok).toBe(true);
    vi.setSystemTime(T0 + REFRESH_GRACE_MS / 2);
    expect((await refresh(t, clientId, first.refresh_token)).ok).toBe(true);
    const [older, newer] = await liveSessions(t);
    await t.run(async (ctx) => {
      await ctx.db.patch("agentSessions", older._id, { lastSeenAt: T0 + 9000 });
      await ctx.db.patch("agentSessions", newer._id, { lastSeenAt: T0 + 4000 });
    });
    expect((await list()).lastUsedAt).toBe(T0 + 9000);
  });

  test("newest first; a metadata-document client shows its host; an HTTP API grant is named so", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const docId = "https://app.example/oauth/client.json";
    await t.mutation(internal.oauthServer.cacheClient, {
      client: { clientId: docId, name: "Doc App", redirectUris: [REDIRECT], grantTypes: ["authorization_code", "refresh_token"] },
      maxAgeS: 3600,
    });
    const dcr = await registerPublic(t, "Registered");
    await grant(t, alice.as, dcr, { resource: API });
    vi.setSystemTime(T0 + 1000);
    await grant(t, alice.as, docId, { resource: MCP });
    const apps = await alice.as.query(api.oauthServer.listConnectedApps, {});
    expect(apps.map((a) => [a.clientName, a.clientKind, a.host, a.resource, a.resourceName, a.createdAt])).toEqual([
      ["Doc App", "cimd", "app.example", MCP, "MCP", T0 + 1000],
      ["Registered", "dcr", null, API, "HTTP API", T0],
    ]);
  });
});

describe("disconnect refusals", () => {
  test("a malformed id, or a grant that no longer exists, is not_found (no crash)", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    await grant(t, alice.as, clientId);
    const [g] = await grants(t);
    const disconnect = (grantId: string) => alice.as.mutation(api.oauthServer.disconnectApp, { grantId });
    const notFound = { data: { code: "not_found", message: "no such connected app" } };
    await expect(disconnect("not-an-id")).rejects.toMatchObject(notFound);
    await t.run(async (ctx) => await ctx.db.delete("oauthGrants", g._id));
    await expect(disconnect(g._id)).rejects.toMatchObject(notFound);
  });
});

describe("grant rows are kept for the audit trail", () => {
  test("exactly 7 days past their family's lifetime, then deleted", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    await grant(t, alice.as, clientId);
    const [g] = await grants(t);
    const reapAt = (now: number) => t.run(async (ctx) => await reapGrants(ctx, now));
    await reapAt(g.familyExpiresAt + 7 * DAY);
    expect(await grants(t)).toHaveLength(1);
    await reapAt(g.familyExpiresAt + 7 * DAY + 1);
    expect(await grants(t)).toHaveLength(0);
  });
});
