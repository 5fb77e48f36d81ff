// The browser routes: /oauth/start/<provider> (ties the state to the browser
// with a cookie, only when navigated to from the dashboard) and
// /oauth/callback/<provider> (completes the flow, redirects to the dashboard
// with no secret in the URL). Driven with convex-test's t.fetch; the provider
// is the real OAuth2 mock server.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { makeTest, signIn, type TestConvex } from "../helpers/convex";
import { authorizeAt, connectionRows, mockProviderForFile, type MockProvider } from "./helpers";

const SITE = "http://127.0.0.1:3211"; // CONVEX_SITE_URL in tests
const DASHBOARD = "http://127.0.0.1:5173"; // SITE_URL in tests
const CALLBACK = `${SITE}/oauth/callback/oauth2`;

let mock: MockProvider;
let t: TestConvex;

mockProviderForFile((m) => (mock = m));
beforeEach(async () => {
  t = await makeTest();
});
afterEach(() => {
  mock.service.removeAllListeners();
});

const path = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

/** initiateOAuth with our own callback; returns the start URL and the state. */
async function initiate(email: string) {
  const who = await signIn(t, email);
  const { authUrl, state } = await who.as.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: CALLBACK });
  return { who, authUrl, state };
}

/** The dashboard navigates to the start URL: returns the provider URL and the binding cookie. */
async function start(authUrl: string, headers: Record<string, string> = { Referer: `${DASHBOARD}/connections` }) {
  const res = await t.fetch(path(authUrl), { headers });
  return { res, location: res.headers.get("location"), setCookie: res.headers.get("set-cookie") };
}

function cookiePair(setCookie: string): string {
  return setCookie.split(";")[0];
}

function expectNoSecrets(url: string, secrets: string[]) {
  for (const s of secrets) expect(url).not.toContain(s);
}

describe("browser flow through the callback route", () => {
  test("start (from the dashboard) → provider → callback: connected, redirected without secrets", async () => {
    const { who, authUrl, state } = await initiate("alice@example.com");
    expect(authUrl).toBe(`${SITE}/oauth/start/oauth2?state=${state}`);

    const s = await start(authUrl);
    expect(s.res.status).toBe(302);
    expect(s.location!.startsWith(`${mock.url}/authorize?`)).toBe(true);
    expect(new URL(s.location!).searchParams.get("code_challenge_method")).toBe("S256");
    expect(new URL(s.location!).searchParams.get("redirect_uri")).toBe(CALLBACK);
    expect(s.setCookie).toMatch(/^kh_oauth_[0-9a-f]{16}=[A-Za-z0-9_-]{43}; Path=\/oauth\/callback\/oauth2; Max-Age=600; HttpOnly; SameSite=Lax$/);
    expect(s.res.headers.get("referrer-policy")).toBe("no-referrer");

    const back = await authorizeAt(s.location!);
    expect(back.location.origin + back.location.pathname).toBe(CALLBACK);
    const res = await t.fetch(path(back.location.toString()), { headers: { Cookie: `other=1; ${cookiePair(s.setCookie!)}` } });
    expect(res.status).toBe(302);
    const loc = res.headers.get("location")!;
    expect(loc).toBe(`${DASHBOARD}/connections?connected=oauth2`);
    expectNoSecrets(loc, [state, back.code!]);
    expect(res.headers.get("set-cookie")).toMatch(/Max-Age=0/);

    const rows = await connectionRows(t, who.userId);
    expect(rows).toHaveLength(1);
    expect(rows[0].provider).toBe("oauth2");
    // The callback cannot be replayed.
    const again = await t.fetch(path(back.location.toString()), { headers: { Cookie: cookiePair(s.setCookie!) } });
    expect(again.headers.get("location")).toBe(`${DASHBOARD}/connections?error=replayed&provider=oauth2`);
  });

  test("login CSRF: a victim's browser sent straight to the provider with the attacker's state is refused", async () => {
    const { who: mallory, authUrl } = await initiate("mallory@example.com");
    // Mallory learns the provider URL by starting in her own browser…
    const s = await start(authUrl);
    // …and sends it to the victim, whose browser has no binding cookie.
    const back = await authorizeAt(s.location!);
    const res = await t.fetch(path(back.location.toString()));
    expect(res.headers.get("location")).toBe(`${DASHBOARD}/connections?error=not_bound&provider=oauth2`);
    expect(await connectionRows(t, mallory.userId)).toHaveLength(0);
    // The state is burned: even Mallory's own browser cannot finish it now.
    const own = await t.fetch(path(back.location.toString()), { headers: { Cookie: cookiePair(s.setCookie!) } });
    expect(own.headers.get("location")).toContain("error=replayed");
  });

  test("the start route only works when navigated to from the dashboard, and only once", async () => {
    const { authUrl } = await initiate("alice@example.com");
    expect((await start(authUrl, {})).res.status).toBe(403);
    expect((await start(authUrl, { Referer: "https://evil.example/page" })).res.status).toBe(403);
    expect((await start(authUrl, { Origin: "https://evil.example", Referer: `${DASHBOARD}/x` })).res.status).toBe(403);
    const ok = await start(authUrl, { Origin: DASHBOARD });
    expect(ok.res.status).toBe(302);
    const twice = await start(authUrl);
    expect(twice.location).toBe(`${DASHBOARD}/connections?error=already_started&provider=oauth2`);
    expect(twice.setCookie).toBeNull();
  });

  test("provider denies: redirected with error=access_denied, state burned, nothing stored", async () => {
    const { who, authUrl, state } = await initiate("alice@example.com");
    const s = await start(authUrl);
    mock.service.once("beforeAuthorizeRedirect", (r: { url: URL }) => {
      r.url.searchParams.delete("code");
      r.url.searchParams.set("error", "access_denied");
    });
    const back = await authorizeAt(s.location!);
    const res = await t.fetch(path(back.location.toString()), { headers: { Cookie: cookiePair(s.setCookie!) } });
    expect(res.headers.get("location")).toBe(`${DASHBOARD}/connections?error=access_denied&provider=oauth2`);
    expect(await connectionRows(t, who.userId)).toHaveLength(0);
    await expect(who.as.mutation(api.auth.completeOAuth, { provider: "oauth2", code: "x", state })).rejects.toThrow(/already used/);
  });

  test("a failed code exchange redirects with a reason, not the provider's text", async () => {
    const { who, authUrl } = await initiate("alice@example.com");
    const s = await start(authUrl);
    const back = await authorizeAt(s.location!);
    mock.service.once("beforeResponse", (res: { body: unknown; statusCode: number }) => {
      res.statusCode = 400;
      res.body = { error: "invalid_grant", error_description: `code ${back.code} is not valid` };
    });
    const res = await t.fetch(path(back.location.toString()), { headers: { Cookie: cookiePair(s.setCookie!) } });
    const loc = res.headers.get("location")!;
    expect(loc).toBe(`${DASHBOARD}/connections?error=code_rejected&provider=oauth2`);
    expect(await connectionRows(t, who.userId)).toHaveLength(0);
  });

  test("unknown provider paths and missing state are refused", async () => {
    expect((await t.fetch("/oauth/callback/gitlab?code=a&state=b")).status).toBe(404);
    expect((await t.fetch("/oauth/start/gitlab?state=b", { headers: { Referer: DASHBOARD } })).status).toBe(404);
    const res = await t.fetch("/oauth/callback/oauth2?code=a");
    expect(res.headers.get("location")).toBe(`${DASHBOARD}/connections?error=invalid_request&provider=oauth2`);
  });
});
