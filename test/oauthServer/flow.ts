// The authorization-code flow at the function level (convex-test), for the
// OAuth server's tests: register a client, store an authorization request,
// approve it as a person, exchange the code, refresh. PKCE verifiers are
// derived from a label (fixed, distinct per label: nothing matches by chance).
import { createHash } from "node:crypto";
import { api, internal } from "../../convex/_generated/api";
import { makeTest, signIn, type TestConvex } from "../helpers/convex";
import { TEST_SITE_URL } from "../helpers/env";

export const REDIRECT = "http://127.0.0.1:7777/cb";
export const MCP = `${TEST_SITE_URL}/mcp`;
export const API = `${TEST_SITE_URL}/api`;

export type As = Awaited<ReturnType<typeof signIn>>["as"];

/** alice, owner of org acme with workspace acme/site. */
export async function setup() {
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  await alice.as.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.as.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  return { t, alice };
}

export async function registerPublic(t: TestConvex, name = "App") {
  const r = await t.mutation(internal.oauthServer.register, {
    request: { client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" },
  });
  if (!r.ok) throw new Error(r.description);
  return r.client.client_id;
}

/** A confidential client (client_secret_basic): its id and secret. */
export async function registerConfidential(t: TestConvex, name = "Server App") {
  const r = await t.mutation(internal.oauthServer.register, { request: { client_name: name, redirect_uris: [REDIRECT] } });
  if (!r.ok || r.client.client_secret === undefined) throw new Error("registration failed");
  return { clientId: r.client.client_id, secret: r.client.client_secret };
}

export const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");

/** A fixed 43-character verifier per label, and its S256 challenge. */
export function pkce(label = "default") {
  const verifier = createHash("sha256").update(`verifier:${label}`).digest("base64url");
  return { verifier, challenge: s256(verifier) };
}

export async function request(
  t: TestConvex,
  clientId: string,
  challenge: string,
  opts: { permissions?: string[]; resource?: string; redirectUri?: string } = {},
) {
  const r = await t.mutation(internal.oauthServer.createAuthRequest, {
    clientId,
    redirectUri: opts.redirectUri ?? REDIRECT,
    state: "s",
    codeChallenge: challenge,
    resource: opts.resource ?? MCP,
    permissions: (opts.permissions ?? ["work:read", "work:write"]) as never,
  });
  if (!r.ok) throw new Error("rate limited");
  return r.requestId;
}

/** Request → consent (acme/site, work:read + work:write) → the authorization code. */
export async function approvedCode(t: TestConvex, as: As, clientId: string, challenge: string, opts: { resource?: string } = {}) {
  const requestId = await request(t, clientId, challenge, opts);
  const { redirectTo } = await as.mutation(api.oauthServer.decideConsent, {
    request: requestId,
    approve: true,
    resource: "acme/site",
    permissions: ["work:read", "work:write"],
  });
  return new URL(redirectTo).searchParams.get("code")!;
}

/** Register → request → consent → code → tokens (a public client). */
/** A signed-in person, a confidential client and a code she approved for it (fixed verifier). */
export async function confidentialCode() {
  const { t, alice } = await setup();
  const { clientId, secret } = await registerConfidential(t);
  const { verifier, challenge } = pkce();
  const code = await approvedCode(t, alice.as, clientId, challenge);
  return { t, alice, clientId, secret, verifier, code };
}

export async function grant(t: TestConvex, as: As, clientId: string, opts: { resource?: string } = {}) {
  const { verifier, challenge } = pkce();
  const code = await approvedCode(t, as, clientId, challenge, opts);
  const r = await t.mutation(internal.oauthServer.exchangeCode, { client: { clientId, method: "none" }, code, codeVerifier: verifier, redirectUri: REDIRECT });
  if (!r.ok) throw new Error(r.description);
  return r.tokens;
}

export const refresh = (t: TestConvex, clientId: string, refreshToken: string, extra: { resource?: string; scope?: string } = {}) =>
  t.mutation(internal.oauthServer.refresh, { client: { clientId, method: "none" }, refreshToken, ...extra });

export async function liveSessions(t: TestConvex) {
  return await t.run(async (ctx) => (await ctx.db.query("agentSessions").collect()).filter((s) => s.endedAt === undefined));
}

export async function grants(t: TestConvex) {
  return await t.run(async (ctx) => await ctx.db.query("oauthGrants").collect());
}
