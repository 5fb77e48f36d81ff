// A maintained third-party OAuth client, openid-client (v6, on oauth4webapi),
// against keyhole's authorization server: RFC 8414 discovery (issuer checked),
// RFC 7591 registration of a confidential client, the PKCE code flow with
// `state` and the RFC 9207 `iss` check, a token for the HTTP API (RFC 8707:
// refused by /mcp), refresh, RFC 7662 introspection and RFC 7009 revocation.
// Consent is given through the same Convex mutation the dashboard's consent
// screen calls (the screen itself is driven in Chromium by sdk.test.ts).
import * as oidc from "openid-client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { type Stack, startStack } from "./stack";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

const REDIRECT = "http://127.0.0.1:9/callback"; // never contacted: openid-client reads the code from the URL

/** Follows /oauth/authorize to the consent URL and approves as the person; returns the redirect back. */
async function consent(authorizationUrl: URL, decision: { place: string | null; permissions: string[] }): Promise<URL> {
  const res = await fetch(authorizationUrl, { redirect: "manual" });
  expect(res.status).toBe(302);
  const consentUrl = new URL(res.headers.get("location")!);
  expect(consentUrl.origin + consentUrl.pathname).toBe(`${stack.web.url}/consent`);
  const person = stack.backend.httpClient(stack.person.token);
  const { redirectTo } = await person.mutation(api.oauthServer.decideConsent, {
    request: consentUrl.searchParams.get("request")!,
    approve: true,
    resource: decision.place,
    permissions: decision.permissions as never,
  });
  return new URL(redirectTo);
}

test("openid-client: discovery, DCR, PKCE code flow, audience, refresh, introspection, revocation", { timeout: 60_000 }, async () => {
  const issuer = new URL(stack.site);
  const config = await oidc.dynamicClientRegistration(
    issuer,
    { redirect_uris: [REDIRECT], client_name: "openid-client test", token_endpoint_auth_method: "client_secret_post", grant_types: ["authorization_code", "refresh_token"] },
    undefined,
    { execute: [oidc.allowInsecureRequests], algorithm: "oauth2" },
  );
  const server = config.serverMetadata();
  expect(server.issuer).toBe(stack.site);
  expect(server.code_challenge_methods_supported).toEqual(["S256"]);
  expect(server.authorization_response_iss_parameter_supported).toBe(true);
  expect(config.clientMetadata().client_secret).toMatch(/^khs_/);

  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const resource = `${stack.site}/api`;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: "work:read tokens:read",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    resource,
  });
  const back = await consent(url, { place: `${stack.person.org}/site`, permissions: ["work:read", "tokens:read"] });
  // openid-client checks state, the iss parameter against the issuer, and sends the verifier.
  const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state }, { resource });
  expect(tokens.token_type).toBe("bearer");
  expect(tokens.scope).toBe("work:read tokens:read");
  expect(tokens.expires_in).toBeGreaterThan(3500);

  // Audience-bound: the HTTP API takes it, the MCP endpoint does not.
  const item = await fetch(`${stack.site}/api/workspaces/${stack.person.org}/site/items/Signal/temp-1`, {
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
  expect(item.status).toBe(200);
  const mcp = await fetch(`${stack.site}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${tokens.access_token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  expect(mcp.status).toBe(401);
  expect(mcp.headers.get("www-authenticate")).toContain('error="invalid_token"');
  // Consent gave work:read only: writing is a 403 that names the scope to ask for (step-up).
  const put = await fetch(`${stack.site}/api/workspaces/${stack.person.org}/site/items/Signal/temp-1`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${tokens.access_token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ data: 1 }),
  });
  expect(put.status).toBe(403);
  expect(put.headers.get("www-authenticate")).toBe(
    `Bearer realm="keyhole", error="insufficient_scope", resource_metadata="${stack.site}/.well-known/oauth-protected-resource/api", scope="work:write"`,
  );

  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource });
  expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  expect(refreshed.scope).toBe("work:read tokens:read");

  const live = await oidc.tokenIntrospection(config, refreshed.access_token);
  expect(live).toMatchObject({ active: true, scope: "work:read tokens:read", client_id: config.clientMetadata().client_id, aud: resource, iss: stack.site });
  for (const s of String(live.scope).split(" ")) expect(server.scopes_supported).toContain(s);
  // The rotated-away access token is no longer active.
  expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);

  await oidc.tokenRevocation(config, refreshed.refresh_token!);
  expect((await oidc.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
  const after = await fetch(`${stack.site}/api/whoami`, { headers: { Authorization: `Bearer ${refreshed.access_token}` } });
  expect(after.status).toBe(401);
  await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
  // Revoking an unknown token is still a 200 (RFC 7009 §2.2).
  await oidc.tokenRevocation(config, "khr_not-a-token");
});
