// The authorization server's pure rules: redirect URIs, Client ID Metadata
// Document URLs and documents, which resolved addresses may be fetched, scope
// parsing, cache lifetimes.
import { describe, expect, test } from "vitest";
import { addressAllowed, cacheSeconds, CIMD_CACHE_MAX_S, CIMD_CACHE_MIN_S, cimdUrlProblem, parseCimdDocument } from "../../convex/model/oauthServer/cimd";
import { agentIdFor, redirectUriProblem, requestedPermissions, strictPermissions } from "../../convex/model/oauthServer/config";
import { normalizeRegistration } from "../../convex/model/oauthServer/clients";

describe("redirect URIs", () => {
  test.each(["https://claude.ai/api/mcp/auth_callback", "http://localhost:6274/oauth/callback", "http://127.0.0.1:9/cb", "http://[::1]:9/cb", "cursor://anysphere.cursor-retrieval/oauth/callback", "com.example.app:/cb"])(
    "%s is allowed",
    (uri) => expect(redirectUriProblem(uri)).toBeNull(),
  );
  test.each(["http://evil.example/cb", "http://localhost.evil.example/cb", "javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "https://a.example/cb#x", "https://u:p@a.example/cb", "/relative", ""])(
    "%s is refused",
    (uri) => expect(redirectUriProblem(uri)).not.toBeNull(),
  );
});

describe("Client ID Metadata Document URLs", () => {
  test("https with a path, no fragment, user info or dot segments", () => {
    expect(cimdUrlProblem("https://app.example/oauth/client.json")).toBeNull();
    expect(cimdUrlProblem("http://app.example/client.json")).toMatch(/https/);
    expect(cimdUrlProblem("https://app.example/")).toMatch(/path/);
    expect(cimdUrlProblem("https://app.example")).toMatch(/path/);
    expect(cimdUrlProblem("https://app.example/a#b")).toMatch(/fragment/);
    expect(cimdUrlProblem("https://u@app.example/a")).toMatch(/user info/);
    expect(cimdUrlProblem("https://app.example/a/../b")).toMatch(/segments/);
    expect(cimdUrlProblem("https://app.example/a/./b")).toMatch(/segments/);
  });

  test("only public unicast addresses; loopback only when allowed (local development)", () => {
    for (const a of ["8.8.8.8", "2606:4700::1111"]) expect(addressAllowed(a, false), a).toBe(true);
    for (const a of ["10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "fd00::1", "fe80::1", "::", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1", "not-an-ip"]) {
      expect(addressAllowed(a, true), a).toBe(false);
    }
    for (const a of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
      expect(addressAllowed(a, false), a).toBe(false);
      expect(addressAllowed(a, true), a).toBe(true);
    }
  });

  test("a document must name itself, carry no secret and list acceptable redirect URIs", () => {
    const id = "https://app.example/client.json";
    const ok = parseCimdDocument(id, JSON.stringify({ client_id: id, client_name: "App", redirect_uris: ["http://127.0.0.1:1/cb"], logo_uri: "http://insecure/logo.png" }));
    expect(ok).toMatchObject({ clientId: id, name: "App", redirectUris: ["http://127.0.0.1:1/cb"], logoUri: undefined });
    expect(parseCimdDocument(id, "not json")).toMatch(/not JSON/);
    expect(parseCimdDocument(id, "[]")).toMatch(/object/);
    expect(parseCimdDocument(id, JSON.stringify({ client_id: `${id}x`, redirect_uris: ["https://a/cb"] }))).toMatch(/does not equal/);
    expect(parseCimdDocument(id, JSON.stringify({ client_id: id, redirect_uris: ["https://a/cb"], client_secret: "s" }))).toMatch(/secret/);
    expect(parseCimdDocument(id, JSON.stringify({ client_id: id, redirect_uris: ["https://a/cb"], token_endpoint_auth_method: "client_secret_basic" }))).toMatch(/not supported/);
    expect(parseCimdDocument(id, JSON.stringify({ client_id: id, redirect_uris: [] }))).toMatch(/redirect_uris/);
    expect(parseCimdDocument(id, JSON.stringify({ client_id: id, redirect_uris: ["javascript:x"] }))).toMatch(/not allowed/);
    // no name: the host stands in
    expect(parseCimdDocument(id, JSON.stringify({ client_id: id, redirect_uris: ["https://a/cb"] }))).toMatchObject({ name: "app.example" });
  });

  test("cache lifetime follows Cache-Control within bounds", () => {
    expect(cacheSeconds(null)).toBe(3600);
    expect(cacheSeconds("max-age=5")).toBe(CIMD_CACHE_MIN_S);
    expect(cacheSeconds("public, max-age=120")).toBe(120);
    expect(cacheSeconds("max-age=99999999")).toBe(CIMD_CACHE_MAX_S);
    expect(cacheSeconds("no-store")).toBe(CIMD_CACHE_MIN_S);
  });
});

describe("scopes and names", () => {
  test("requested scopes: known permissions only, defaults when none", () => {
    expect(requestedPermissions("openid work:write offline_access work:read")).toEqual(["work:read", "work:write"]);
    expect(requestedPermissions("openid")).toEqual(["workspace:read", "work:read", "work:write"]);
    expect(requestedPermissions(null)).toEqual(["workspace:read", "work:read", "work:write"]);
    expect(strictPermissions("work:read work:read")).toEqual(["work:read"]);
    expect(strictPermissions("work:read openid")).toBeNull();
  });

  test("agent ids derived from client names fit the agent-id rules", () => {
    expect(agentIdFor("Claude")).toBe("oauth:Claude");
    expect(agentIdFor("SDK Test Client")).toBe("oauth:SDK-Test-Client");
    expect(agentIdFor("💥💥")).toBe("oauth:app");
    expect(agentIdFor("x".repeat(300))).toMatch(/^oauth:x{48}$/);
  });

  test("registrations: RFC 7591 defaults and refusals", () => {
    const n = normalizeRegistration({ redirect_uris: ["https://a.example/cb"] });
    expect(n).toMatchObject({ authMethod: "client_secret_basic", grantTypes: ["authorization_code"], name: "a.example" });
    expect(normalizeRegistration({ redirect_uris: [] })).toMatch(/redirect_uris/);
    expect(normalizeRegistration({ redirect_uris: ["https://a/cb"], token_endpoint_auth_method: "private_key_jwt" })).toMatch(/token_endpoint_auth_method/);
    expect(normalizeRegistration({ redirect_uris: ["https://a/cb"], grant_types: ["client_credentials"] })).toMatch(/grant_types/);
    expect(normalizeRegistration({ redirect_uris: ["https://a/cb"], response_types: ["token"] })).toMatch(/response type/);
    expect(normalizeRegistration({ redirect_uris: ["https://a/cb"], logo_uri: "http://x/logo" })).toMatch(/logo_uri/);
  });
});
