// A reviewer playing the attacker against the authorization server, on the
// embedded backend over real HTTP. Each test fails when the rule it names
// breaks. Consent is given through the dashboard's own mutation.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { postForm, type Stack, startStack } from "./stack";

const REDIRECT = "http://127.0.0.1:9/callback";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

async function register(body: Record<string, unknown>): Promise<Record<string, string>> {
  const res = await fetch(`${stack.site}/oauth/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as Record<string, string>;
}

/** Authorization + consent + code exchange; `auth` is the client authentication sent to the token endpoint. */
async function tokensFor(clientId: string, auth: Record<string, string>, resource = `${stack.site}/mcp`) {
  const { verifier, challenge } = pkce();
  const u = new URL(`${stack.site}/oauth/authorize`);
  const params = { response_type: "code", client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", scope: "work:read", resource };
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  const a = await fetch(u, { redirect: "manual" });
  expect(a.status).toBe(302);
  const request = new URL(a.headers.get("location")!).searchParams.get("request")!;
  const { redirectTo } = await stack.backend.httpClient(stack.person.token).mutation(api.oauthServer.decideConsent, {
    request,
    approve: true,
    resource: `${stack.person.org}/site`,
    permissions: ["work:read"],
  });
  const code = new URL(redirectTo).searchParams.get("code")!;
  const t = await postForm(stack.site, "/oauth/token", { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT, ...auth });
  expect(t.status).toBe(200);
  return t.json as { access_token: string; refresh_token: string };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.site}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("an OAuth grant is refreshed only at the token endpoint", () => {
  test("a confidential client's stolen refresh token gets nothing from the agent-session refresh (no secret, no 24 h token)", async () => {
    const client = await register({ client_name: "Confidential", redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_post" });
    const auth = { client_id: client.client_id, client_secret: client.client_secret };
    const { refresh_token } = await tokensFor(client.client_id, auth);

    // The thief has the refresh token but not the client secret: the token endpoint refuses...
    const noSecret = await postForm(stack.site, "/oauth/token", { grant_type: "refresh_token", refresh_token, client_id: client.client_id });
    expect(noSecret.status).toBe(401);
    // ...and so must keyhole's other refresh paths: the HTTP API and the Convex mutation.
    const viaApi = await post("/api/sessions/refresh", { refreshToken: refresh_token, ttl: 86_400 });
    expect(viaApi.status).toBe(400);
    expect(viaApi.json.token).toBeUndefined();
    expect(JSON.stringify(viaApi.json)).toContain("/oauth/token");
    const viaConvex = await stack.backend.httpClient().mutation(api.auth.refreshSession, { refreshToken: refresh_token });
    expect(viaConvex).toMatchObject({ ok: false, code: "forbidden" });

    // The refusals did not consume it: the client (with its secret) still refreshes.
    const legit = await postForm(stack.site, "/oauth/token", { grant_type: "refresh_token", refresh_token, ...auth });
    expect(legit.status).toBe(200);
  });

  test("an access token for /api cannot mint itself a refresh token through /api/sessions/refresh", async () => {
    const client = await register({ client_name: "API client", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" });
    const { access_token } = await tokensFor(client.client_id, { client_id: client.client_id }, `${stack.site}/api`);
    const whoami = await fetch(`${stack.site}/api/whoami`, { headers: { Authorization: `Bearer ${access_token}` } });
    expect(whoami.status).toBe(200); // the token is good at /api
    const r = await post("/api/sessions/refresh", {}, { Authorization: `Bearer ${access_token}` });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toContain("/oauth/token");
    expect(r.json.refreshToken).toBeUndefined();
  });
});

describe("a client cannot disguise its name on the consent screen", () => {
  test("bidi overrides and control characters are removed from a registered name", async () => {
    // U+202E RIGHT-TO-LEFT OVERRIDE renders "edualC" as "Claude" and reverses the rest of the heading.
    const client = await register({ client_name: "\u202eedualC\u0000 \u200bhelper\u2066", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" });
    expect(client.client_name).toBe("edualC helper");
    const u = new URL(`${stack.site}/oauth/authorize`);
    const params = { response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: "S256" };
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    const a = await fetch(u, { redirect: "manual" });
    const request = new URL(a.headers.get("location")!).searchParams.get("request")!;
    const shown = await stack.backend.httpClient(stack.person.token).query(api.oauthServer.consentRequest, { request });
    expect(shown.client.name).toBe("edualC helper");

    const blank = await register({ client_name: "\u202e\u0007", redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" });
    expect(blank.client_name).toBe("app.example"); // nothing visible left: the redirect host names it
  });
});
