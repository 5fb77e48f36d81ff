// The authorization server refusing, on the embedded backend over real HTTP:
// each test plays a client or an attacker and fails if the rule breaks.
// Consent is given through the dashboard's own mutation (decideConsent).
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { metadataServer, postForm, selfSignedCert, type Stack, startStack } from "./stack";

const HOSTS_HOOK = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "hosts.mjs");
const REDIRECT = "http://127.0.0.1:9/callback";

let stack: Stack;
let tls: Awaited<ReturnType<typeof selfSignedCert>>;
let docs: Awaited<ReturnType<typeof metadataServer>>;

beforeAll(async () => {
  tls = await selfSignedCert();
  docs = await metadataServer(tls, (origin) => ({
    "/moved.json": { redirectTo: `${origin}/elsewhere.json` },
    "/elsewhere.json": { client_id: `${origin}/moved.json`, redirect_uris: [REDIRECT] },
    "/liar.json": { client_id: `${origin}/someone-else.json`, redirect_uris: [REDIRECT] },
    "/big.json": JSON.stringify({ client_id: `${origin}/big.json`, redirect_uris: [REDIRECT], padding: "x".repeat(6000) }),
  }));
  stack = await startStack({
    env: {
      NODE_EXTRA_CA_CERTS: tls.caFile,
      NODE_OPTIONS: `--import ${HOSTS_HOOK}`,
      KEYHOLE_TEST_HOSTS: JSON.stringify({ "private.keyhole.test": "10.0.0.7", "metadata.keyhole.test": "169.254.169.254", "compat.keyhole.test": "::a9fe:a9fe" }),
    },
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await docs?.stop();
  tls?.cleanup();
});

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

async function register(body: Record<string, unknown>) {
  const res = await fetch(`${stack.site}/oauth/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, string> };
}

async function publicClient(name = "Refusals client", redirect = REDIRECT): Promise<string> {
  const r = await register({ client_name: name, redirect_uris: [redirect], token_endpoint_auth_method: "none" });
  expect(r.status).toBe(201);
  return r.json.client_id;
}

function authorizeUrl(params: Record<string, string | undefined>): string {
  const u = new URL(`${stack.site}/oauth/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** GET /oauth/authorize without following: the status, and the redirect's parameters if any. */
async function authorize(params: Record<string, string | undefined>) {
  const res = await fetch(authorizeUrl(params), { redirect: "manual" });
  const location = res.headers.get("location");
  return { status: res.status, location, params: location ? new URL(location).searchParams : null, text: location ? "" : await res.text() };
}

function validParams(clientId: string, challenge: string, extra: Record<string, string | undefined> = {}) {
  return { response_type: "code", client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", state: "st-1", scope: "work:read", ...extra };
}

/** A full authorization: returns the code (consent by the person through decideConsent). */
async function codeFor(clientId: string, challenge: string, extra: Record<string, string | undefined> = {}, approve = true) {
  const a = await authorize(validParams(clientId, challenge, extra));
  expect(a.status).toBe(302);
  const request = a.params!.get("request")!;
  const { redirectTo } = await stack.backend.httpClient(stack.person.token).mutation(api.oauthServer.decideConsent, {
    request,
    approve,
    resource: `${stack.person.org}/site`,
    permissions: approve ? ["work:read"] : [],
  });
  return new URL(redirectTo).searchParams;
}

async function exchange(clientId: string, code: string, verifier: string, extra: Record<string, string> = {}) {
  return await postForm(stack.site, "/oauth/token", { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId, ...extra });
}

async function mcpStatus(token: string): Promise<number> {
  const res = await fetch(`${stack.site}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  await res.body?.cancel();
  return res.status;
}

describe("registration (RFC 7591)", () => {
  test("redirect URIs: javascript:, data:, plain http to a public host, fragments are refused", async () => {
    for (const uri of ["javascript:alert(1)", "data:text/html,x", "http://evil.example/cb", "https://app.example/cb#frag", "https://user:pw@app.example/cb"]) {
      const r = await register({ client_name: "x", redirect_uris: [uri], token_endpoint_auth_method: "none" });
      expect(r.status, uri).toBe(400);
      expect(r.json.error).toBe("invalid_redirect_uri");
    }
  });

  test("identical public registrations share one client; a different one does not", async () => {
    const a = await publicClient("Dedup app");
    const b = await publicClient("Dedup app");
    const c = await publicClient("Dedup app 2");
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  test("a confidential client must authenticate at the token endpoint", async () => {
    const r = await register({ client_name: "conf", redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_basic" });
    expect(r.json.client_secret).toMatch(/^khs_/);
    const { verifier, challenge } = pkce();
    const code = (await codeFor(r.json.client_id, challenge)).get("code")!;
    const none = await exchange(r.json.client_id, code, verifier);
    expect(none.status).toBe(401);
    expect(none.json.error).toBe("invalid_client");
    const wrong = await postForm(stack.site, "/oauth/token", { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT }, {
      Authorization: `Basic ${Buffer.from(`${r.json.client_id}:khs_wrong`).toString("base64")}`,
    });
    expect(wrong.status).toBe(401);
  });
});

describe("authorization endpoint", () => {
  test("an unregistered client or redirect URI gets an error page, never a redirect", async () => {
    const { challenge } = pkce();
    const clientId = await publicClient();
    const unknown = await authorize(validParams("khc_nosuchclient", challenge));
    expect(unknown.status).toBe(400);
    expect(unknown.location).toBeNull();
    const mismatched = await authorize(validParams(clientId, challenge, { redirect_uri: "http://127.0.0.1:9/other" }));
    expect(mismatched.status).toBe(400);
    expect(mismatched.location).toBeNull();
    expect(mismatched.text).toContain("redirect_uri");
    const missing = await authorize(validParams(clientId, challenge, { redirect_uri: undefined }));
    expect(missing.status).toBe(400);
    expect(missing.location).toBeNull();
  });

  test("missing PKCE, plain PKCE, a wrong resource → back to the client with error, state and iss", async () => {
    const { challenge } = pkce();
    const clientId = await publicClient();
    const cases: [Record<string, string | undefined>, string][] = [
      [{ code_challenge: undefined, code_challenge_method: undefined }, "invalid_request"],
      [{ code_challenge_method: "plain" }, "invalid_request"],
      [{ code_challenge_method: undefined }, "invalid_request"], // absent method = plain (RFC 7636 §4.3)
      [{ resource: "https://evil.example/mcp" }, "invalid_target"],
      [{ resource: `${stack.site}/mcp/../admin` }, "invalid_target"],
      [{ response_type: "token" }, "unsupported_response_type"],
    ];
    for (const [extra, error] of cases) {
      const r = await authorize(validParams(clientId, challenge, extra));
      expect(r.status, JSON.stringify(extra)).toBe(302);
      expect(r.location!.startsWith(REDIRECT)).toBe(true);
      expect(r.params!.get("error")).toBe(error);
      expect(r.params!.get("state")).toBe("st-1");
      expect(r.params!.get("iss")).toBe(stack.site);
      expect(r.params!.get("code")).toBeNull();
    }
  });

  test("consent denied → access_denied with state and iss, and no code", async () => {
    const { challenge } = pkce();
    const params = await codeFor(await publicClient(), challenge, {}, false);
    expect(params.get("error")).toBe("access_denied");
    expect(params.get("state")).toBe("st-1");
    expect(params.get("iss")).toBe(stack.site);
    expect(params.get("code")).toBeNull();
  });

  test("a consent request is answered once", async () => {
    const { challenge } = pkce();
    const clientId = await publicClient();
    const a = await authorize(validParams(clientId, challenge));
    const request = a.params!.get("request")!;
    const person = stack.backend.httpClient(stack.person.token);
    const decide = () => person.mutation(api.oauthServer.decideConsent, { request, approve: true, resource: null, permissions: ["work:read"] });
    await decide();
    await expect(decide()).rejects.toMatchObject({ data: { code: "not_found" } });
  });
});

describe("Client ID Metadata Documents: the fetch is guarded", () => {
  const { challenge } = pkce();
  test.each([
    ["an IP literal in a private range", "https://10.0.0.7/client.json", /private or reserved/],
    ["the cloud metadata address", "https://169.254.169.254/latest/client.json", /private or reserved/],
    ["a name that resolves to a private address", "https://private.keyhole.test/client.json", /private or reserved/],
    ["a name that resolves to the metadata address", "https://metadata.keyhole.test:8443/client.json", /private or reserved/],
    // IPv4-compatible IPv6 (::/96, deprecated): ipaddr.js calls it unicast, but it embeds a private IPv4 address.
    ["an IPv4-compatible IPv6 literal of a private address", "https://[::a00:7]/client.json", /private or reserved/],
    ["a name that resolves to an IPv4-compatible form of the metadata address", "https://compat.keyhole.test/client.json", /private or reserved/],
    ["plain http", "http://app.example/client.json", /https/],
    ["no path", "https://app.example/", /path/],
  ])("%s is refused before any request", async (_what, url, why) => {
    const r = await authorize(validParams(url, challenge, { redirect_uri: REDIRECT }));
    expect(r.status).toBe(400);
    expect(r.location).toBeNull();
    expect(r.text).toMatch(why);
  });

  test("a document that redirects, lies about its client_id, or is too large is refused", async () => {
    for (const [p, why] of [["/moved.json", /redirects/], ["/liar.json", /client_id does not equal/], ["/big.json", /larger than/]] as const) {
      const r = await authorize(validParams(`${docs.origin}${p}`, challenge));
      expect(r.status, p).toBe(400);
      expect(r.text).toMatch(why);
    }
    expect(docs.fetches.get("/elsewhere.json")).toBeUndefined(); // the redirect was not followed
  });
});

describe("token endpoint", () => {
  test("a replayed code is refused and the tokens it gave are revoked", async () => {
    const { verifier, challenge } = pkce();
    const clientId = await publicClient();
    const code = (await codeFor(clientId, challenge)).get("code")!;
    const first = await exchange(clientId, code, verifier);
    expect(first.status).toBe(200);
    expect(await mcpStatus(first.json.access_token as string)).toBe(200);
    const replay = await exchange(clientId, code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe("invalid_grant");
    expect(await mcpStatus(first.json.access_token as string)).toBe(401);
  });

  test("a code presented by another client is refused (and burnt)", async () => {
    const { verifier, challenge } = pkce();
    const victim = await publicClient("Victim app");
    const attacker = await publicClient("Attacker app");
    const code = (await codeFor(victim, challenge)).get("code")!;
    const stolen = await exchange(attacker, code, verifier);
    expect(stolen.status).toBe(400);
    expect(stolen.json.error).toBe("invalid_grant");
    expect((await exchange(victim, code, verifier)).json.error).toBe("invalid_grant");
  });

  test("a wrong PKCE verifier, a wrong redirect_uri and a wrong resource are refused", async () => {
    const clientId = await publicClient();
    for (const [extra, error] of [
      [{ code_verifier: pkce().verifier }, "invalid_grant"],
      [{ redirect_uri: "http://127.0.0.1:9/other" }, "invalid_grant"],
      [{ resource: `${stack.site}/api` }, "invalid_target"],
    ] as const) {
      const { verifier, challenge } = pkce();
      const code = (await codeFor(clientId, challenge)).get("code")!;
      const r = await exchange(clientId, code, verifier, extra);
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(r.json.error).toBe(error);
    }
  });

  test("concurrent refreshes with one refresh token both succeed (grace window); the refresh token is bound to its client", async () => {
    const { verifier, challenge } = pkce();
    const clientId = await publicClient();
    const other = await publicClient("Other app");
    const tokens = (await exchange(clientId, (await codeFor(clientId, challenge)).get("code")!, verifier)).json;
    const refresh = (client: string) => postForm(stack.site, "/oauth/token", { grant_type: "refresh_token", refresh_token: tokens.refresh_token as string, client_id: client });
    expect((await refresh(other)).json.error).toBe("invalid_grant");
    const [a, b] = await Promise.all([refresh(clientId), refresh(clientId)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json.access_token).not.toBe(b.json.access_token);
    expect(await mcpStatus(a.json.access_token as string)).toBe(200);
    expect(await mcpStatus(b.json.access_token as string)).toBe(200);
    expect(await mcpStatus(tokens.access_token as string)).toBe(401); // the rotated-away token
  });

  test("form bodies only, one value per parameter, known grant types only", async () => {
    const json = await fetch(`${stack.site}/oauth/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(json.status).toBe(400);
    const dup = await fetch(`${stack.site}/oauth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "grant_type=authorization_code&code=a&code=b&client_id=x",
    });
    expect(((await dup.json()) as { error: string }).error).toBe("invalid_request");
    const pw = await postForm(stack.site, "/oauth/token", { grant_type: "password", client_id: await publicClient() });
    expect(pw.json.error).toBe("unsupported_grant_type");
  });
});
