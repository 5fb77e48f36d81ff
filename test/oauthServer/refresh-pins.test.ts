// The refresh_token grant (convex/model/oauthServer/token.ts refreshGrant),
// each rule pinned by a test that plays the attacker and fails when the rule
// breaks (mutation testing, docs/mutation-survivors.md): client binding,
// revoked grants, resource and scope limits, and the grace window for
// concurrent refreshes — its boundaries, its cap, and what it never revives.
// Explicit times (fake Date) only.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { FAMILY_LIFETIME_MS } from "../../convex/model/agentSessions";
import { MAX_LIVE_PER_GRANT, REFRESH_GRACE_MS } from "../../convex/model/oauthServer/config";
import type { TestConvex } from "../helpers/convex";
import { API, grant, grants, liveSessions, MCP, REDIRECT, refresh, confidentialCode, registerPublic, setup } from "./flow";

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const UNKNOWN = { ok: false, status: 400, error: "invalid_grant", description: "unknown, expired or revoked refresh token" };

afterEach(() => {
  vi.useRealTimers();
});

/** alice, a public client "Claude" and its first token pair, issued at T0 (fake Date from here on). */
async function granted() {
  const { t, alice } = await setup();
  const clientId = await registerPublic(t, "Claude");
  vi.useFakeTimers({ now: T0, toFake: ["Date"] });
  const first = await grant(t, alice.as, clientId);
  return { t, alice, clientId, first };
}

async function rotate(t: TestConvex, clientId: string, refreshToken: string) {
  const r = await refresh(t, clientId, refreshToken);
  if (!r.ok) throw new Error(r.description);
  return r.tokens;
}

describe("who may refresh", () => {
  test("a confidential client must authenticate (401 invalid_client)", async () => {
    const { t, clientId, secret, verifier, code } = await confidentialCode();
    const r = await t.mutation(internal.oauthServer.exchangeCode, { client: { clientId, method: "client_secret_basic", secret }, code, codeVerifier: verifier, redirectUri: REDIRECT });
    if (!r.ok) throw new Error(r.description);
    const as = (s?: string) => t.mutation(internal.oauthServer.refresh, { client: { clientId, method: "client_secret_basic", secret: s }, refreshToken: r.tokens.refresh_token });
    expect(await as("khs_wrong")).toEqual({ ok: false, status: 401, error: "invalid_client", description: "client authentication failed" });
    expect(await as(secret)).toMatchObject({ ok: true });
  });

  test("an unknown, malformed or oversized refresh token is refused as unknown (no crash)", async () => {
    const { t, clientId, first } = await granted();
    const body = first.refresh_token.slice("khr_".length);
    for (const token of [`khr_${"A".repeat(body.length)}`, body, `khr_${"A".repeat(200)}`, ""]) {
      expect(await refresh(t, clientId, token), token).toEqual(UNKNOWN);
    }
  });

  test("another client holding the refresh token gets nothing, and the rightful client's token is untouched", async () => {
    const { t, clientId, first } = await granted();
    const thief = await registerPublic(t, "Thief");
    expect(await refresh(t, thief, first.refresh_token)).toEqual(UNKNOWN);
    expect(await refresh(t, clientId, first.refresh_token)).toMatchObject({ ok: true });
  });

  test("a revoked grant: a grace-window replay is refused without rewriting why it was revoked", async () => {
    const { t, clientId, first } = await granted();
    await rotate(t, clientId, first.refresh_token);
    vi.setSystemTime(T0 + 1000);
    await t.mutation(internal.oauthServer.revokeToken, { client: { clientId, method: "none" }, token: first.access_token });
    vi.setSystemTime(T0 + 2000);
    expect(await refresh(t, clientId, first.refresh_token)).toEqual(UNKNOWN);
    expect((await grants(t))[0]).toMatchObject({ revokedAt: T0 + 1000, revokedReason: "revoked_by_client" });
  });
});

describe("a refresh cannot widen the grant", () => {
  test("the resource, when sent, must be the authorized one (a trailing slash tolerated)", async () => {
    const { t, clientId, first } = await granted();
    const wrong = { ok: false, status: 400, error: "invalid_target", description: "resource does not match the one authorized" };
    expect(await refresh(t, clientId, first.refresh_token, { resource: API })).toEqual(wrong);
    expect(await refresh(t, clientId, first.refresh_token, { resource: "https://evil.example/mcp" })).toEqual(wrong);
    expect(await refresh(t, clientId, first.refresh_token, { resource: `${MCP}/` })).toMatchObject({ ok: true });
  });

  test("a scope beyond the grant, or an unknown scope value, is refused; the grant's own scopes are fine", async () => {
    const { t, clientId, first } = await granted();
    const wider = { ok: false, status: 400, error: "invalid_scope", description: "a refresh cannot add scopes: authorize again for more" };
    expect(await refresh(t, clientId, first.refresh_token, { scope: "work:read members:write" })).toEqual(wider);
    expect(await refresh(t, clientId, first.refresh_token, { scope: "work:read openid" })).toEqual(wider);
    const ok = await refresh(t, clientId, first.refresh_token, { scope: "work:read" });
    expect(ok).toMatchObject({ ok: true, tokens: { scope: "work:read work:write", token_type: "Bearer", expires_in: 3600 } });
  });
});

describe("the grace window for concurrent refreshes", () => {
  test("a replay at exactly REFRESH_GRACE_MS after the rotation still gets a sibling in the same family", async () => {
    const { t, alice, clientId, first } = await granted();
    await rotate(t, clientId, first.refresh_token);
    vi.setSystemTime(T0 + REFRESH_GRACE_MS);
    const sibling = await refresh(t, clientId, first.refresh_token);
    expect(sibling).toMatchObject({ ok: true, tokens: { scope: "work:read work:write", expires_in: 3600 } });
    const live = await liveSessions(t);
    expect(live).toHaveLength(2);
    const [g] = await grants(t);
    for (const s of live) {
      expect(s).toMatchObject({ familyId: g.familyId, audience: MCP, agentId: "oauth:Claude", scopes: g.scopes, familyExpiresAt: g.familyExpiresAt });
    }
    const events = await t.run(async (ctx) => (await ctx.db.query("auditEvents").collect()).filter((e) => e.action === "oauth.refresh_concurrent"));
    expect(events).toMatchObject([
      { targetType: "oauthGrant", targetId: g._id, details: `client=Claude within 30 s of the last refresh: sibling ${live[1]._id}` },
    ]);
    // Siblings are the grant's: disconnecting ends them all.
    expect(await alice.as.mutation(api.oauthServer.disconnectApp, { grantId: g._id })).toEqual({ sessionsEnded: 2 });
  });

  test("at most MAX_LIVE_PER_GRANT live at once: the replay past the cap is treated as theft and ends the grant", async () => {
    const { t, clientId, first } = await granted();
    await rotate(t, clientId, first.refresh_token);
    for (let i = 1; i < MAX_LIVE_PER_GRANT; i++) expect((await refresh(t, clientId, first.refresh_token)).ok).toBe(true);
    expect(await liveSessions(t)).toHaveLength(MAX_LIVE_PER_GRANT);
    expect(await refresh(t, clientId, first.refresh_token)).toEqual(UNKNOWN);
    expect(await liveSessions(t)).toEqual([]);
    expect((await grants(t))[0]).toMatchObject({ revokedReason: "refresh_token_reused" });
  });

  test("a family its owner ended (sessions panel) is not revived by a replay inside the window", async () => {
    const { t, alice, clientId, first } = await granted();
    await rotate(t, clientId, first.refresh_token);
    const [live] = await liveSessions(t);
    await alice.as.mutation(api.sessions.endAgentSession, { sessionId: live._id });
    vi.setSystemTime(T0 + 1000);
    expect(await refresh(t, clientId, first.refresh_token)).toEqual(UNKNOWN);
    expect(await liveSessions(t)).toEqual([]);
  });

  test("no sibling once the family reached its absolute lifetime, even inside the window", async () => {
    const { t, clientId, first } = await granted();
    const end = T0 + FAMILY_LIFETIME_MS;
    vi.setSystemTime(end - 10_000);
    await rotate(t, clientId, first.refresh_token);
    vi.setSystemTime(end);
    expect(await refresh(t, clientId, first.refresh_token)).toEqual(UNKNOWN);
    expect(await liveSessions(t)).toEqual([]);
  });

  test("a superseded sibling's refresh token gets no new sibling; the refusal does not end the grant", async () => {
    const { t, clientId, first } = await granted();
    const second = await rotate(t, clientId, first.refresh_token);
    vi.setSystemTime(T0 + 1000);
    const sibling = await rotate(t, clientId, first.refresh_token);
    vi.setSystemTime(T0 + 2000);
    // Rotating `second` supersedes the sibling (its row ends "superseded").
    const third = await rotate(t, clientId, second.refresh_token);
    vi.setSystemTime(T0 + 3000);
    expect(await refresh(t, clientId, sibling.refresh_token)).toEqual(UNKNOWN);
    expect(await liveSessions(t)).toHaveLength(1);
    expect((await grants(t))[0].revokedAt).toBeUndefined();
    expect(await refresh(t, clientId, third.refresh_token)).toMatchObject({ ok: true });
  });
});

describe("audit", () => {
  test("grant and sibling audit lines carry at most 80 characters of the client's name", async () => {
    const { t, alice } = await setup();
    const name = "N".repeat(100);
    const clientId = await registerPublic(t, name);
    const first = await grant(t, alice.as, clientId);
    await rotate(t, clientId, first.refresh_token);
    await rotate(t, clientId, first.refresh_token);
    const details = await t.run(async (ctx) =>
      (await ctx.db.query("auditEvents").collect()).filter((e) => e.action.startsWith("oauth.")).map((e) => [e.action, e.details]),
    );
    expect(details).toEqual([
      ["oauth.consent_approved", expect.any(String)],
      ["oauth.grant_created", expect.stringMatching(new RegExp(`^client=${"N".repeat(80)} resource=`))],
      ["oauth.refresh_concurrent", expect.stringMatching(new RegExp(`^client=${"N".repeat(80)} within 30 s`))],
    ]);
  });
});

describe("lifetimes", () => {
  test("a grant past its absolute lifetime: refused, with authorize-again wording", async () => {
    const { t, clientId, first } = await granted();
    vi.setSystemTime(T0 + FAMILY_LIFETIME_MS);
    expect(await refresh(t, clientId, first.refresh_token)).toEqual({ ...UNKNOWN, description: "the grant reached its lifetime: authorize again" });
  });

  test("expires_in is never 0: the last access token of a family ending in half a second says 1", async () => {
    const { t, clientId, first } = await granted();
    vi.setSystemTime(T0 + FAMILY_LIFETIME_MS - 500);
    expect(await refresh(t, clientId, first.refresh_token)).toMatchObject({ ok: true, tokens: { expires_in: 1 } });
  });
});
