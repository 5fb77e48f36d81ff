// The official MCP SDK client against keyhole as its own OAuth authorization
// server, with consent given in Chromium on the real dashboard: discovery
// (RFC 9728 → RFC 8414), registration (dynamic, RFC 7591; and a Client ID
// Metadata Document served by an https loopback server), authorization with
// PKCE, token exchange, tools/list and tools/call, refresh, and revocation
// (RFC 7009, and "Disconnect" in the dashboard) → the next call is a 401 the
// client reports as UnauthorizedError.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type OAuthClientProvider, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PASSWORD } from "../helpers/signup";
import { approve, callbackServer, metadataServer, postForm, selfSignedCert, type Stack, startStack, WAIT } from "./stack";

/** An in-memory OAuthClientProvider, as an app would write one. */
class TestProvider implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = "";
  authorizationUrls: URL[] = [];
  readonly sentState = `st-${Math.random().toString(36).slice(2)}`;
  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
  ) {}
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "SDK Test Client",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    return this.sentState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(c: OAuthClientInformationMixed) {
    this.client = c;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.saved = undefined;
    if (scope === "all" || scope === "client") this.client = undefined;
  }
}

let stack: Stack;
let cb: Awaited<ReturnType<typeof callbackServer>>;
let tls: Awaited<ReturnType<typeof selfSignedCert>>;
let docs: Awaited<ReturnType<typeof metadataServer>>;

beforeAll(async () => {
  tls = await selfSignedCert();
  cb = await callbackServer();
  docs = await metadataServer(tls, (origin) => ({
    "/mcp-client.json": {
      client_id: `${origin}/mcp-client.json`,
      client_name: "CIMD Test Client",
      redirect_uris: [cb.url],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    },
  }));
  // The backend trusts the test CA (loopback https is allowed: local development).
  stack = await startStack({ browser: true, env: { NODE_EXTRA_CA_CERTS: tls.caFile } });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await cb?.stop();
  await docs?.stop();
  tls?.cleanup();
});

const mcpUrl = () => new URL(`${stack.site}/mcp`);

/**
 * Connects, and returns once the SDK's background GET on /mcp (it opens the
 * optional SSE stream after `initialized`, unawaited; keyhole answers 405) has
 * its answer: sent later, e.g. after a revocation, it would get a 401 and start
 * an authorization of its own.
 */
async function connect(provider: TestProvider): Promise<Client> {
  let streamAnswered!: () => void;
  const stream = new Promise<void>((r) => (streamAnswered = r));
  const fetchFn: FetchLike = async (url, init) => {
    const res = await fetch(url, init);
    if (init?.method === "GET" && String(url) === mcpUrl().href) streamAnswered();
    return res;
  };
  const client = new Client({ name: "keyhole-oauth-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider, fetch: fetchFn }));
  await stream;
  return client;
}

/** The SDK's first connect redirects; Chromium consents; the code comes back to the loopback redirect. */
async function authorize(provider: TestProvider, choice: Parameters<typeof approve>[2]): Promise<{ url: URL; params: URLSearchParams }> {
  const transport = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
  await expect(new Client({ name: "t", version: "1" }).connect(transport)).rejects.toThrow(UnauthorizedError);
  const url = provider.authorizationUrls.at(-1)!;
  const back = cb.next();
  await approve(stack.page!, url.toString(), choice);
  const params = await back;
  expect(params.get("state")).toBe(provider.sentState);
  expect(params.get("iss")).toBe(stack.site); // RFC 9207
  await transport.finishAuth(params.get("code")!);
  return { url, params };
}

describe("MCP SDK client, dynamic registration", { timeout: 120_000 }, () => {
  let provider: TestProvider;
  test("discovery → DCR → consent in Chromium → tokens → tools/list and tools/call", async () => {
    provider = new TestProvider(cb.url);
    const { org } = stack.person;
    const { url } = await authorize(provider, { place: `${org}/site`, expectClient: "SDK Test Client" });
    // Registered dynamically (no metadata URL offered), PKCE S256, audience = /mcp, the 401's scopes.
    expect(provider.client?.client_id).toMatch(/^khc_/);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("resource")).toBe(`${stack.site}/mcp`);
    expect(url.searchParams.get("scope")).toBe("workspace:read work:read work:write");
    expect(provider.saved).toMatchObject({ token_type: "Bearer", scope: "workspace:read work:read work:write" });
    expect(provider.saved!.refresh_token).toMatch(/^khr_/);

    const client = await connect(provider);
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(["delete_item", "get_item", "list_items", "list_workspaces", "put_item", "whoami"]);
    const got = await client.callTool({ name: "get_item", arguments: { workspace: `${org}/site`, name: "Signal/temp-1" } });
    expect(JSON.parse((got.content as { text: string }[])[0].text)).toMatchObject({ name: "Signal/temp-1", data: { celsius: 21 } });
    // The consent chose one workspace: another is out of reach.
    const elsewhere = await client.callTool({ name: "get_item", arguments: { workspace: `${org}/other`, name: "x" } }).catch((e: Error) => e);
    expect(String(elsewhere instanceof Error ? elsewhere.message : JSON.stringify(elsewhere))).toMatch(/forbidden|403/);
    await client.close();
  });

  test("an access token that stops working is refreshed (the refresh token rotates)", async () => {
    const before = provider.saved!;
    provider.saved = { ...before, access_token: "not-a-valid-token" };
    const client = await connect(provider);
    const who = await client.callTool({ name: "whoami", arguments: {} });
    expect(JSON.parse((who.content as { text: string }[])[0].text)).toMatchObject({ kind: "agent", agentId: "oauth:SDK-Test-Client" });
    expect(provider.saved!.access_token).not.toBe("not-a-valid-token");
    expect(provider.saved!.refresh_token).toMatch(/^khr_/);
    expect(provider.saved!.refresh_token).not.toBe(before.refresh_token);
    await client.close();
  });

  test("RFC 7009 revocation → the next call is 401 and the SDK reports UnauthorizedError", async () => {
    const client = await connect(provider);
    const r = await postForm(stack.site, "/oauth/revoke", { token: provider.saved!.refresh_token!, client_id: provider.client!.client_id });
    expect(r.status).toBe(200);
    const before = provider.authorizationUrls.length;
    await expect(client.callTool({ name: "whoami", arguments: {} })).rejects.toThrow(UnauthorizedError);
    // The SDK tried its refresh token (refused), dropped the tokens and started a new authorization.
    expect(provider.saved).toBeUndefined();
    expect(provider.authorizationUrls.length).toBe(before + 1);
    await client.close().catch(() => {});
  });
});

describe("MCP SDK client, Client ID Metadata Document", { timeout: 120_000 }, () => {
  test("the https client_id URL is used (no registration), fetched once, shown as verified; Disconnect in the dashboard ends it", async () => {
    const provider = new TestProvider(cb.url, `${docs.origin}/mcp-client.json`);
    const page = stack.page!;
    await authorize(provider, { place: `${stack.person.org}/site`, expectClient: "CIMD Test Client" });
    expect(provider.client?.client_id).toBe(`${docs.origin}/mcp-client.json`);
    expect(docs.fetches.get("/mcp-client.json")).toBe(1);

    const client = await connect(provider);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);

    // A second authorization uses the cached document.
    const again = new TestProvider(cb.url, `${docs.origin}/mcp-client.json`);
    await authorize(again, { place: stack.person.org });
    expect(docs.fetches.get("/mcp-client.json")).toBe(1);

    // Connected apps: listed with the host that vouches for it; disconnect → next call 401.
    await page.goto(`${stack.web.url}/#/apps`);
    const row = page.locator(`li[data-app-name="CIMD Test Client"]`).first();
    await row.waitFor(WAIT);
    await row.getByText("127.0.0.1").first().waitFor(WAIT);
    expect(await page.locator(`li[data-app-name="CIMD Test Client"]`).count()).toBe(2);
    await row.getByRole("button", { name: "Disconnect" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Disconnect" }).click();
    await expect.poll(() => page.locator(`li[data-app-name="CIMD Test Client"]`).count(), WAIT).toBe(1);
    // One of the two grants is gone; whichever it was, exactly one client still works.
    const results = await Promise.all(
      [provider, again].map(async (p) => {
        const c = new Client({ name: "t", version: "1" });
        const saved = p.saved!;
        // no refresh: a revoked grant must fail outright
        const noRefresh = new TestProvider(cb.url, p.clientMetadataUrl);
        noRefresh.client = p.client;
        noRefresh.saved = { access_token: saved.access_token, token_type: "Bearer" };
        try {
          await c.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: noRefresh }));
          await c.callTool({ name: "whoami", arguments: {} });
          return "ok";
        } catch (e) {
          return e instanceof UnauthorizedError ? "unauthorized" : `other: ${String(e)}`;
        } finally {
          await c.close().catch(() => {});
        }
      }),
    );
    expect(results.sort()).toEqual(["ok", "unauthorized"]);
    await client.close().catch(() => {});
  });
});

describe("consent when signed out", { timeout: 240_000 }, () => {
  /** A fresh (signed-out) browser opens the SDK's authorization URL and signs in there; `hold` runs before the page loads. */
  async function signInOnConsentLink(hold?: (page: Page) => Promise<unknown>) {
    const provider = new TestProvider(cb.url);
    const transport = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
    await expect(new Client({ name: "t", version: "1" }).connect(transport)).rejects.toThrow(UnauthorizedError);
    const context = await stack.browser!.newContext();
    const page = await context.newPage();
    await hold?.(page);
    await page.goto(provider.authorizationUrls.at(-1)!.toString());
    await page.getByText("An app asks to connect to keyhole: sign in to review it.").waitFor(WAIT);
    await page.getByLabel("Email").fill(stack.person.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Allow SDK Test Client to use keyhole?" }).waitFor(WAIT);
    return { provider, context, page };
  }

  /** Clicks Deny; the app's redirect URI gets the answer, or the page asked "Leave site?" (which a person may refuse). */
  async function deny(page: Page, clicked?: () => Promise<void>): Promise<URLSearchParams> {
    const back = cb.next();
    const prompt = page.waitForEvent("dialog", { timeout: 0 }).then((d) => {
      throw new Error(`leaving the consent screen asked a ${d.type()} question`);
    });
    await page.getByRole("button", { name: "Deny", exact: true }).click();
    void clicked?.().catch(() => {}); // the page goes away once it has answered
    const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("Deny: no redirect back within 20 s")), WAIT.timeout).unref());
    const params = await Promise.race([back, prompt, late]);
    // Let the cross-origin navigation to the redirect URI finish before the
    // caller closes the context: Chromium can acknowledge a close that races a
    // navigation commit and never close (microsoft/playwright#41900, #42366),
    // which hung this suite until its timeout.
    await page.waitForURL((u) => u.href.startsWith(cb.url), { waitUntil: "load", ...WAIT });
    return params;
  }

  test("the consent link asks to sign in first, then shows the request; Deny returns access_denied", async () => {
    const { provider, context, page } = await signInOnConsentLink();
    try {
      await page.getByText("unverified").waitFor(WAIT);
      const params = await deny(page);
      expect(params.get("error")).toBe("access_denied");
      expect(params.get("state")).toBe(provider.sentState);
      expect(params.get("code")).toBeNull();
    } finally {
      await context.close();
    }
  });

  test("Deny right after signing in returns to the app even while a sign-in token refresh would be running", async () => {
    // Any token refresh the dashboard starts is held until the decision is made:
    // while one runs, @convex-dev/auth guards the page with a "Leave site?"
    // prompt, which the consent screen's redirect must not meet (the dashboard
    // used to refresh right after every sign-in).
    const held: Route[] = [];
    let clicked = false;
    const { provider, context, page } = await signInOnConsentLink((p) =>
      p.route("**/api/action", async (route) => {
        if (!clicked && (route.request().postData() ?? "").includes("refreshToken")) held.push(route);
        else await route.continue();
      }),
    );
    try {
      const params = await deny(page, async () => {
        await page.getByRole("heading", { name: "Access denied" }).waitFor({ timeout: 0 });
        clicked = true;
        for (const r of held.splice(0)) await r.continue();
      });
      expect(params.get("error")).toBe("access_denied");
      expect(params.get("state")).toBe(provider.sentState);
    } finally {
      clicked = true; // a refresh still held (the page left before "Access denied" showed) must not keep the context open
      for (const r of held.splice(0)) await r.abort().catch(() => {});
      await context.close();
    }
  });
});
