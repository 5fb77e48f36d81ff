// The authorization server's decisions at the function level (convex-test,
// controlled clock): the refresh grace window and reuse after it, consent
// never beyond the person's role, grants bound to their client, audience
// checks, connected apps, and reaping of unused registrations.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { REFRESH_GRACE_MS, UNUSED_CLIENT_TTL_MS } from "../../convex/model/oauthServer/config";
import { asBearer, signIn } from "../helpers/convex";
import { TEST_SITE_URL } from "../helpers/env";
import { joinOrg } from "../helpers/invite";
import { grant, liveSessions, pkce, refresh, registerPublic, request, setup } from "./flow";

afterEach(() => {
  vi.useRealTimers();
});

describe("refresh tokens", () => {
  test("a rotated refresh token replayed within the grace window gets a sibling pair", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    vi.useFakeTimers();
    const first = await grant(t, alice.as, clientId);
    const rotated = await refresh(t, clientId, first.refresh_token);
    expect(rotated.ok).toBe(true);
    vi.setSystemTime(Date.now() + REFRESH_GRACE_MS - 1000);
    const sibling = await refresh(t, clientId, first.refresh_token);
    expect(sibling.ok).toBe(true);
    expect(await liveSessions(t)).toHaveLength(2);
  });

  test("replayed after the grace window: refused, and the whole grant ends", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    vi.useFakeTimers();
    const first = await grant(t, alice.as, clientId);
    const rotated = await refresh(t, clientId, first.refresh_token);
    if (!rotated.ok) throw new Error("rotation failed");
    vi.setSystemTime(Date.now() + REFRESH_GRACE_MS + 1);
    const replay = await refresh(t, clientId, first.refresh_token);
    expect(replay).toMatchObject({ ok: false, error: "invalid_grant" });
    expect(await liveSessions(t)).toHaveLength(0);
    // The legitimate holder's newer refresh token is dead too, and the grant is revoked.
    expect(await refresh(t, clientId, rotated.tokens.refresh_token)).toMatchObject({ ok: false, error: "invalid_grant" });
    const grants = await t.run(async (ctx) => await ctx.db.query("oauthGrants").collect());
    expect(grants[0]).toMatchObject({ revokedReason: "refresh_token_reused" });
    expect(await alice.as.query(api.oauthServer.listConnectedApps, {})).toEqual([]);
  });

  test("siblings are capped: a flood of replays inside the window cannot mint unbounded sessions", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    const first = await grant(t, alice.as, clientId);
    await refresh(t, clientId, first.refresh_token);
    const results = [];
    for (let i = 0; i < 6; i++) results.push((await refresh(t, clientId, first.refresh_token)).ok);
    expect((await liveSessions(t)).length).toBeLessThanOrEqual(4);
    expect(results.filter((ok) => !ok).length).toBeGreaterThan(0);
  });

  test("a session that is no OAuth grant cannot be refreshed at the token endpoint", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    const s = await alice.as.mutation(api.auth.createSession, { agentId: "plain" });
    expect(await refresh(t, clientId, s.refreshToken)).toMatchObject({ ok: false, error: "invalid_grant" });
  });
});

describe("consent", () => {
  test("never beyond the person's role, never beyond what was requested, only where they are a member", async () => {
    const { t, alice } = await setup();
    const bob = await signIn(t, "bob@example.com");
    await joinOrg(alice, "acme", bob, "viewer");
    await bob.as.mutation(api.orgs.create, { slug: "bobco", name: "Bob Co" });
    const clientId = await registerPublic(t);
    const decide = async (resource: string | null, permissions: string[]) => {
      const requestId = await request(t, clientId, pkce().challenge);
      return await bob.as.mutation(api.oauthServer.decideConsent, { request: requestId, approve: true, resource, permissions: permissions as never }).catch((e: { data: unknown }) => e.data);
    };
    expect(await decide("acme", ["work:write"])).toMatchObject({ code: "forbidden" });
    expect(await decide("acme/site", ["work:read", "members:write"])).toMatchObject({ code: "invalid_argument" });
    expect(await decide("acme/site", [])).toMatchObject({ code: "invalid_argument" });
    expect(await decide("otherorg", ["work:read"])).toMatchObject({ code: "forbidden" });
    // Everywhere: allowed only if some role grants it (bob owns bobco, so work:write is fine there).
    expect(await decide(null, ["work:write"])).toHaveProperty("redirectTo");
    expect(await decide("acme", ["work:read"])).toHaveProperty("redirectTo");
    // The consent screen offers per org what the role grants.
    const shown = await bob.as.query(api.oauthServer.consentRequest, { request: await request(t, clientId, pkce().challenge) });
    expect(shown.orgs.find((o) => o.slug === "acme")!.grantable).not.toContain("work:write");
    expect(shown.orgs.find((o) => o.slug === "bobco")!.grantable).toContain("work:write");
    expect(shown.client).toMatchObject({ name: "App", kind: "dcr", host: null });
    expect(shown.redirectLocal).toBe(true);
  });

  test("only a signed-in person can see or answer a consent request", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    const requestId = await request(t, clientId, pkce().challenge);
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "p", scopes: [] });
    const asPat = asBearer(t, pat.token);
    await expect(asPat.query(api.oauthServer.consentRequest, { request: requestId })).rejects.toMatchObject({ data: { code: "forbidden" } });
    await expect(t.query(api.oauthServer.consentRequest, { request: requestId })).rejects.toMatchObject({ data: { code: "unauthenticated" } });
  });
});

describe("grants", () => {
  test("introspection and revocation only for the client the token was issued to", async () => {
    const { t, alice } = await setup();
    const mine = await registerPublic(t, "Mine");
    const other = await registerPublic(t, "Other");
    const tokens = await grant(t, alice.as, mine);
    const peek = (clientId: string) => t.query(internal.oauthServer.introspectToken, { client: { clientId, method: "none" }, token: tokens.access_token });
    expect(await peek(other)).toEqual({ ok: true, body: { active: false } });
    expect(await peek(mine)).toMatchObject({ ok: true, body: { active: true, scope: "work:read work:write", aud: `${TEST_SITE_URL}/mcp` } });
    await t.mutation(internal.oauthServer.revokeToken, { client: { clientId: other, method: "none" }, token: tokens.access_token });
    expect(await liveSessions(t)).toHaveLength(1);
    await t.mutation(internal.oauthServer.revokeToken, { client: { clientId: mine, method: "none" }, token: tokens.access_token });
    expect(await liveSessions(t)).toHaveLength(0);
  });

  test("connected apps: listed for the owner, disconnect ends the family and is audited; others can't", async () => {
    const { t, alice } = await setup();
    const bob = await signIn(t, "bob@example.com");
    const clientId = await registerPublic(t, "Claude");
    await grant(t, alice.as, clientId);
    const apps = await alice.as.query(api.oauthServer.listConnectedApps, {});
    expect(apps).toHaveLength(1);
    expect(apps[0]).toMatchObject({ clientName: "Claude", resourceName: "MCP", permissions: ["work:read", "work:write"] });
    await expect(bob.as.mutation(api.oauthServer.disconnectApp, { grantId: apps[0].grantId })).rejects.toMatchObject({ data: { code: "not_found" } });
    expect(await alice.as.mutation(api.oauthServer.disconnectApp, { grantId: apps[0].grantId })).toEqual({ sessionsEnded: 1 });
    expect(await liveSessions(t)).toHaveLength(0);
    expect(await alice.as.query(api.oauthServer.listConnectedApps, {})).toEqual([]);
    const events = await t.run(async (ctx) => (await ctx.db.query("auditEvents").collect()).map((e) => e.action));
    expect(events).toEqual(expect.arrayContaining(["oauth.consent_approved", "oauth.grant_created", "oauth.grant_revoked"]));
  });
});

describe("registrations are reaped", () => {
  test("an unused registration goes after a day; one holding a grant stays", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers();
    const unused = await registerPublic(t, "Unused");
    const used = await registerPublic(t, "Used");
    await grant(t, alice.as, used);
    vi.setSystemTime(Date.now() + UNUSED_CLIENT_TTL_MS + 60_000);
    await t.mutation(internal.oauthServer.reap, {});
    const left = await t.run(async (ctx) => (await ctx.db.query("oauthClients").collect()).map((c) => c.clientId));
    expect(left).toEqual([used]);
    expect(left).not.toContain(unused);
  });
});
