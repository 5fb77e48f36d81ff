// The authorization_code grant (convex/model/oauthServer/token.ts exchangeCode),
// each rule pinned by a test that plays the attacker and fails when the rule
// breaks (mutation testing, docs/mutation-survivors.md): client authentication,
// single use (a replay revokes what the code produced), the client, expiry and
// redirect URI a code is bound to, PKCE S256 with a well-formed verifier, and
// the resource. Fixed verifiers and explicit times (fake Date) only.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { FAMILY_LIFETIME_MS } from "../../convex/model/agentSessions";
import { CODE_TTL_MS, UNUSED_CLIENT_TTL_MS } from "../../convex/model/oauthServer/config";
import type { TestConvex } from "../helpers/convex";
import { API, approvedCode, grants, liveSessions, MCP, pkce, REDIRECT, confidentialCode, registerPublic, s256, setup } from "./flow";

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

afterEach(() => {
  vi.useRealTimers();
});

type Exchange = { clientId: string; code: string; verifier?: string; redirectUri?: string; resource?: string; secret?: string };

function exchange(t: TestConvex, x: Exchange) {
  const client = x.secret === undefined ? { clientId: x.clientId, method: "none" as const } : { clientId: x.clientId, method: "client_secret_basic" as const, secret: x.secret };
  return t.mutation(internal.oauthServer.exchangeCode, { client, code: x.code, codeVerifier: x.verifier, redirectUri: x.redirectUri ?? REDIRECT, resource: x.resource });
}

const invalidGrant = (description: string) => ({ ok: false, status: 400, error: "invalid_grant", description });

/** alice, a public client and one approved code for verifier `label`. */
async function withCode(label = "default", opts: { resource?: string } = {}) {
  const { t, alice } = await setup();
  const clientId = await registerPublic(t, "Claude");
  const { verifier, challenge } = pkce(label);
  const code = await approvedCode(t, alice.as, clientId, challenge, opts);
  return { t, alice, clientId, verifier, code };
}

describe("client authentication", () => {
  test("a confidential client's code is refused without its secret or with a wrong one (401 invalid_client), and not burned", async () => {
    const { t, clientId, secret, verifier, code } = await confidentialCode();
    const refused = { ok: false, status: 401, error: "invalid_client", description: "client authentication failed" };
    expect(await exchange(t, { clientId, code, verifier, secret: "khs_wrong" })).toEqual(refused);
    expect(await exchange(t, { clientId, code, verifier })).toEqual(refused);
    expect(await exchange(t, { clientId, code, verifier, secret })).toMatchObject({ ok: true });
  });
});

describe("single use", () => {
  test("an unknown code is refused", async () => {
    const { t, clientId, verifier } = await withCode();
    expect(await exchange(t, { clientId, code: "khac_not-a-code", verifier })).toEqual(invalidGrant("unknown authorization code"));
  });

  test("a replayed code is refused and the tokens issued for it are revoked", async () => {
    const { t, clientId, verifier, code } = await withCode();
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const first = await exchange(t, { clientId, code, verifier });
    if (!first.ok) throw new Error(first.description);
    vi.setSystemTime(T0 + 1000);
    expect(await exchange(t, { clientId, code, verifier })).toEqual(
      invalidGrant("the authorization code was already used: the tokens issued for it are revoked"),
    );
    expect(await liveSessions(t)).toEqual([]);
    expect((await grants(t))[0]).toMatchObject({ revokedAt: T0 + 1000, revokedReason: "code_replayed" });
    const refresh = await t.mutation(internal.oauthServer.refresh, { client: { clientId, method: "none" }, refreshToken: first.tokens.refresh_token });
    expect(refresh).toMatchObject({ ok: false, error: "invalid_grant" });
  });

  test("a code that failed once (wrong verifier) is burned: the right verifier afterwards gets nothing", async () => {
    const { t, clientId, verifier, code } = await withCode();
    expect(await exchange(t, { clientId, code, verifier: pkce("guess").verifier })).toEqual(invalidGrant("code_verifier does not match the code_challenge"));
    expect(await exchange(t, { clientId, code, verifier })).toMatchObject({ ok: false, error: "invalid_grant" });
    expect(await grants(t)).toEqual([]);
    expect(await liveSessions(t)).toEqual([]);
  });
});

describe("what a code is bound to", () => {
  test("another client cannot redeem it, even with the right verifier and redirect URI", async () => {
    const { t, clientId, verifier, code } = await withCode();
    const thief = await registerPublic(t, "Thief");
    expect(await exchange(t, { clientId: thief, code, verifier })).toEqual(invalidGrant("the code was issued to another client"));
    // …and the attempt burned it for the rightful client too.
    expect(await exchange(t, { clientId, code, verifier })).toMatchObject({ ok: false, error: "invalid_grant" });
  });

  test("it expires CODE_TTL_MS after approval: good 1 ms before, refused at the instant", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const { verifier, challenge } = pkce();
    const early = await approvedCode(t, alice.as, clientId, challenge);
    const late = await approvedCode(t, alice.as, clientId, challenge);
    vi.setSystemTime(T0 + CODE_TTL_MS - 1);
    expect(await exchange(t, { clientId, code: early, verifier })).toMatchObject({ ok: true });
    vi.setSystemTime(T0 + CODE_TTL_MS);
    expect(await exchange(t, { clientId, code: late, verifier })).toEqual(invalidGrant("the code has expired"));
  });

  test("the redirect URI must be the authorization request's exactly; leaving it out does not skip the check", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    const { verifier, challenge } = pkce();
    const mismatch = invalidGrant("redirect_uri does not match the authorization request");
    for (const redirectUri of [`${REDIRECT}/`, "http://127.0.0.1:7777/cb?x=1", "http://127.0.0.1:7778/cb"]) {
      const code = await approvedCode(t, alice.as, clientId, challenge);
      expect(await exchange(t, { clientId, code, verifier, redirectUri }), redirectUri).toEqual(mismatch);
    }
    const code = await approvedCode(t, alice.as, clientId, challenge);
    const omitted = await t.mutation(internal.oauthServer.exchangeCode, { client: { clientId, method: "none" }, code, codeVerifier: verifier });
    expect(omitted).toEqual(mismatch);
  });

  test("the resource, when sent, must be the authorized one (a trailing slash tolerated)", async () => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    const { verifier, challenge } = pkce();
    const wrong = { ok: false, status: 400, error: "invalid_target", description: "resource does not match the one authorized" };
    for (const resource of [API, "https://evil.example/mcp"]) {
      const code = await approvedCode(t, alice.as, clientId, challenge, { resource: MCP });
      expect(await exchange(t, { clientId, code, verifier, resource }), resource).toEqual(wrong);
    }
    const code = await approvedCode(t, alice.as, clientId, challenge, { resource: MCP });
    expect(await exchange(t, { clientId, code, verifier, resource: `${MCP}/` })).toMatchObject({ ok: true });
  });
});

describe("PKCE S256 (RFC 7636)", () => {
  const malformed = invalidGrant("code_verifier is missing or malformed (PKCE is required)");

  test("a missing verifier is refused", async () => {
    const { t, clientId, code } = await withCode();
    expect(await exchange(t, { clientId, code })).toEqual(malformed);
  });

  test("a wrong verifier of the right shape is refused", async () => {
    const { t, clientId, code } = await withCode();
    expect(await exchange(t, { clientId, code, verifier: pkce("other").verifier })).toEqual(invalidGrant("code_verifier does not match the code_challenge"));
  });

  // Each verifier below matches its own challenge: only its shape can refuse it.
  const good = "A".repeat(20) + "z9-._~" + "b".repeat(17); // 43 characters
  test.each([
    ["42 characters (too short to resist guessing)", "a".repeat(42)],
    ["129 characters", "a".repeat(129)],
    ["a character outside the unreserved set", good.slice(0, 21) + "+" + good.slice(22)],
    ["a space", good.slice(0, 21) + " " + good.slice(22)],
    ["a bad character before 43 good ones", `!${good}`],
    ["a bad character after 43 good ones", `${good}!`],
    ["a newline after 43 good ones", `${good}\n`],
  ])("a verifier with %s is refused even when it matches its challenge", async (_what, verifier) => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    const code = await approvedCode(t, alice.as, clientId, s256(verifier));
    expect(await exchange(t, { clientId, code, verifier })).toEqual(malformed);
  });

  test.each([
    ["43 characters, every unreserved kind", good],
    ["128 characters", "~".repeat(64) + "Z0".repeat(32)],
  ])("a verifier of %s is accepted", async (_what, verifier) => {
    const { t, alice } = await setup();
    const clientId = await registerPublic(t);
    const code = await approvedCode(t, alice.as, clientId, s256(verifier));
    expect(await exchange(t, { clientId, code, verifier })).toMatchObject({ ok: true });
  });
});

describe("what a redeemed code produces", () => {
  test("tokens for the consented permissions; a grant bound to the client, resource and person; the code points at it; audited", async () => {
    const { t, alice } = await setup();
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const clientId = await registerPublic(t, "Claude Desktop");
    const { verifier, challenge } = pkce();
    const code = await approvedCode(t, alice.as, clientId, challenge, { resource: API });
    const r = await exchange(t, { clientId, code, verifier });
    if (!r.ok) throw new Error(r.description);
    expect(r.tokens).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "work:read work:write" });
    const [session] = await liveSessions(t);
    expect(session).toMatchObject({ userId: alice.userId, agentId: "oauth:Claude-Desktop", audience: API, familyExpiresAt: T0 + FAMILY_LIFETIME_MS });
    const [g] = await grants(t);
    expect(g).toMatchObject({
      userId: alice.userId,
      clientId,
      clientName: "Claude Desktop",
      clientKind: "dcr",
      familyId: session._id,
      resource: API,
      permissions: ["work:read", "work:write"],
      scopes: session.scopes,
      createdAt: T0,
      familyExpiresAt: T0 + FAMILY_LIFETIME_MS,
    });
    expect(g.scopes).toEqual([{ resource: "acme/site", permissions: ["work:read", "work:write"] }]);
    const stored = await t.run(async (ctx) => await ctx.db.query("oauthCodes").collect());
    expect(stored[0]).toMatchObject({ usedAt: T0, grantId: g._id });
    // The registration is kept as long as the grant can live.
    const client = await t.run(async (ctx) => (await ctx.db.query("oauthClients").collect())[0]);
    expect(client.reapAt).toBe(T0 + FAMILY_LIFETIME_MS + UNUSED_CLIENT_TTL_MS);
    const events = await t.run(async (ctx) => (await ctx.db.query("auditEvents").collect()).filter((e) => e.action === "oauth.grant_created"));
    expect(events).toMatchObject([
      {
        userId: alice.userId,
        actorKind: "anonymous",
        targetType: "oauthGrant",
        targetId: g._id,
        details: `client=Claude Desktop resource=${API} scope=work:read work:write session=${session._id}`,
      },
    ]);
    // The person sees it as a connected app.
    expect(await alice.as.query(api.oauthServer.listConnectedApps, {})).toMatchObject([{ grantId: g._id, resourceName: "HTTP API" }]);
  });
});
