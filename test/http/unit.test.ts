// Function-level tests of the HTTP layer with convex-test (t.fetch runs the
// real router in convex/http.ts): paths that need a controlled clock or that
// are pure helpers. End-to-end behaviour is in api.test.ts / limits.test.ts.
import { ConvexError } from "convex/values";
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { keyholeError } from "../../convex/model/errors";
import { TOKEN_PREFIX } from "../../convex/model/keys";
import {
  bearerOf,
  credentialInUrl,
  HttpError,
  INVALID_TOKEN_MESSAGE,
} from "../../convex/model/http/common";
import { retryAfterSeconds, toHttpError } from "../../convex/model/http/render";
import { asToken, makeTest, signIn } from "../helpers/convex";
import { joinOrg } from "../helpers/invite";

afterEach(() => {
  vi.useRealTimers();
});

describe("helpers", () => {
  test("credentialInUrl: credential-named params, token-looking values, tokens in the path", () => {
    const u = (s: string) => new URL(`http://h${s}`);
    expect(credentialInUrl(u("/api/whoami"))).toBe(false);
    expect(credentialInUrl(u("/api/workspaces/acme/site/items?limit=5&cursor=abc"))).toBe(false);
    for (const p of ["token", "access_token", "Access_Token", "api_key", "refresh_token", "jwt"]) {
      expect(credentialInUrl(u(`/api/whoami?${p}=x`))).toBe(true);
    }
    expect(credentialInUrl(u(`/api/whoami?q=${TOKEN_PREFIX}abc.def.ghi`))).toBe(true);
    expect(credentialInUrl(u(`/api/whoami?q=Bearer%20${TOKEN_PREFIX}abc`))).toBe(true);
    expect(credentialInUrl(u("/api/whoami?x=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"))).toBe(true);
    expect(credentialInUrl(u(`/api/pats/${TOKEN_PREFIX}abc.def.ghi`))).toBe(true);
  });

  test("bearerOf: only the Bearer scheme; other schemes are present-but-invalid", () => {
    const r = (h?: string) => new Request("http://h/", { headers: h === undefined ? {} : { Authorization: h } });
    expect(bearerOf(r())).toEqual({ present: false });
    expect(bearerOf(r("Bearer abc"))).toEqual({ present: true, token: "abc" });
    expect(bearerOf(r("bearer   abc "))).toEqual({ present: true, token: "abc" });
    expect(bearerOf(r("Basic YTpi"))).toEqual({ present: true, token: null });
    expect(bearerOf(r("Bearer a b"))).toEqual({ present: true, token: null });
  });

  test("toHttpError maps every keyhole code; the three credential failures share one body", () => {
    const status = (code: Parameters<typeof keyholeError>[0]) => toHttpError(keyholeError(code, `m-${code}`));
    expect(status("invalid_argument")).toMatchObject({ status: 400, code: "invalid_argument", message: "m-invalid_argument" });
    for (const c of ["unauthenticated", "expired", "revoked"] as const) {
      const e = status(c);
      expect({ status: e.status, code: e.code, message: e.message }).toEqual({
        status: 401,
        code: "unauthenticated",
        message: INVALID_TOKEN_MESSAGE,
      });
      expect(e.headers["WWW-Authenticate"]).toContain('error="invalid_token"');
    }
    expect(status("forbidden")).toMatchObject({ status: 403, code: "forbidden" });
    expect(status("forbidden").headers["WWW-Authenticate"]).toContain('error="insufficient_scope"');
    expect(status("not_found").status).toBe(404);
    expect(status("conflict").status).toBe(409);
    const rl = toHttpError(keyholeError("rate_limited", "too many tokens created: try again in 42 s"));
    expect(rl.status).toBe(429);
    expect(rl.headers["Retry-After"]).toBe("42");
    expect(retryAfterSeconds("no number here")).toBe(60);

    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const unknown = toHttpError(new Error(`boom with a secret ${TOKEN_PREFIX}xyz`));
    expect(unknown).toMatchObject({ status: 500, code: "internal", message: "internal error" });
    expect(JSON.stringify(spy.mock.calls)).not.toContain(TOKEN_PREFIX);
    spy.mockRestore();
    expect(toHttpError(new Error("ArgumentValidationError: Value does not match validator"))).toMatchObject({
      status: 400,
    });
    expect(toHttpError(new ConvexError("plain"))).toMatchObject({ status: 400 });
    const own = new HttpError(413, "invalid_argument", "too big");
    expect(toHttpError(own)).toBe(own);
  });
});

describe("with a controlled clock", () => {
  test("a PAT whose record has expired gets the same 401, and its owner sees auth.failed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "short", scopes: [], expiresIn: 60 });
    const as = asToken(t, "pat", pat.tokenId).withRequestMetadata({ ip: "10.0.0.1", userAgent: "ua" });
    const headers = { Authorization: `Bearer ${pat.token}` };
    expect((await as.fetch("/api/whoami", { headers })).status).toBe(200);

    vi.setSystemTime(new Date("2030-01-01T00:01:01Z"));
    const r = await as.fetch("/api/whoami", { headers });
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: { code: "unauthenticated", message: INVALID_TOKEN_MESSAGE } });
    const events = await t.run(async (ctx) => await ctx.db.query("auditEvents").take(50));
    const failed = events.find((e) => e.action === "auth.failed");
    expect(failed).toMatchObject({ targetId: pat.tokenId, ip: "10.0.0.1", details: expect.stringContaining("reason=expired") });
  });

  test("last use (time, IP, user agent) is written at most once a minute", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const pat = await alice.as.mutation(api.auth.createApiToken, { name: "busy", scopes: [] });
    const headers = { Authorization: `Bearer ${pat.token}` };
    const from = (ip: string) => asToken(t, "pat", pat.tokenId).withRequestMetadata({ ip, userAgent: `agent-${ip}` });
    const lastUse = async () =>
      await t.run(async (ctx) => {
        const d = (await ctx.db.get(pat.tokenId))!;
        return { at: d.lastUsedAt, ip: d.lastUsedIp, ua: d.lastUsedUserAgent };
      });

    await from("10.0.0.1").fetch("/api/whoami", { headers });
    const first = await lastUse();
    expect(first).toEqual({ at: Date.parse("2030-01-01T00:00:00Z"), ip: "10.0.0.1", ua: "agent-10.0.0.1" });

    vi.setSystemTime(new Date("2030-01-01T00:00:30Z"));
    await from("10.0.0.2").fetch("/api/whoami", { headers });
    expect(await lastUse()).toEqual(first);

    vi.setSystemTime(new Date("2030-01-01T00:01:01Z"));
    await from("10.0.0.3").fetch("/api/whoami", { headers });
    expect(await lastUse()).toEqual({ at: Date.parse("2030-01-01T00:01:01Z"), ip: "10.0.0.3", ua: "agent-10.0.0.3" });
  });
});

describe("MCP tools/list", () => {
  test("a full-scope token of a viewer sees only what the role grants (scopes ∩ role)", async () => {
    const t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    const bob = await signIn(t, "bob@example.com");
    await alice.as.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
    await joinOrg(alice, "acme", bob, "viewer");
    const pat = await bob.as.mutation(api.auth.createApiToken, { name: "all", scopes: [] });
    const r = await asToken(t, "pat", pat.tokenId).fetch("/mcp", {
      method: "POST",
      headers: {
        Authorization: `Bearer ${pat.token}`,
        Accept: "application/json, text/event-stream",
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(r.status).toBe(200);
    const names = ((await r.json()) as { result: { tools: { name: string }[] } }).result.tools.map((x) => x.name);
    // connections:use is not part of the full role: no get_connection_token.
    expect(names.sort()).toEqual(["get_item", "list_items", "list_workspaces", "whoami"]);
  });
});
