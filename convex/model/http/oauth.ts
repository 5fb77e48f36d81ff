/**
 * Browser routes for OAuth connections (registered by convex/http.ts):
 *
 *   GET /oauth/start/<provider>?state=…     (the authUrl initiateOAuth returns
 *       when redirectUri is our own callback). Only reachable by navigating
 *       from the dashboard (Origin/Referer = SITE_URL): sets an HttpOnly
 *       cookie that ties the state to this browser, then redirects to the
 *       provider. Without it, anyone could send a victim a provider link with
 *       their own state and collect the victim's account (login CSRF).
 *   GET /oauth/callback/<provider>?code=…&state=…   the provider's redirect:
 *       needs that cookie, completes the flow for the person who started it,
 *       then redirects to `${SITE_URL}/connections?connected=<provider>` or
 *       `?error=<reason>`. No secret ever goes into the redirect URL.
 */
import type { HttpRouter } from "convex/server";
import { internal } from "../../_generated/api";
import { httpAction } from "../../_generated/server";
import { randomToken, sha256Hex } from "../crypto";
import { tryComplete } from "../oauth/flows";
import { PROVIDER_IDS, type ProviderId } from "../oauth/providers";
import { STATE_TTL_MS } from "../oauth/state";
import { siteUrl } from "../keys";

const START = "/oauth/start/";
const CALLBACK = "/oauth/callback/";

const NO_STORE = {
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

export function registerOAuthRoutes(http: HttpRouter): void {
  http.route({ pathPrefix: START, method: "GET", handler: startRoute });
  http.route({ pathPrefix: CALLBACK, method: "GET", handler: callbackRoute });
}

function providerOf(url: URL, prefix: string): ProviderId | null {
  const rest = url.pathname.slice(prefix.length);
  return (PROVIDER_IDS as readonly string[]).includes(rest) ? (rest as ProviderId) : null;
}

/** The dashboard's origin, from env SITE_URL (null when unset or invalid). */
function dashboardOrigin(): string | null {
  try {
    return process.env.SITE_URL ? new URL(process.env.SITE_URL).origin : null;
  } catch {
    return null;
  }
}

function cookieName(stateHash: string): string {
  return `kh_oauth_${stateHash.slice(0, 16)}`;
}

function readCookie(req: Request, name: string): string | null {
  for (const part of (req.headers.get("Cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

function cookie(name: string, value: string, provider: ProviderId, maxAgeS: number): string {
  const secure = siteUrl().startsWith("https:") ? "; Secure" : "";
  return `${name}=${value}; Path=${CALLBACK}${provider}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Lax${secure}`;
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...NO_STORE, ...headers } });
}

/** Back to the dashboard with an outcome; only fixed words and a provider id in the URL. */
function toDashboard(outcome: { connected: ProviderId } | { error: string; provider?: ProviderId }, headers: Record<string, string> = {}): Response {
  const site = process.env.SITE_URL;
  if (!site) {
    return "connected" in outcome
      ? text(200, `Connected ${outcome.connected}. You can close this window.`, headers)
      : text(400, `Connection failed: ${outcome.error}.`, headers);
  }
  const url = new URL("/connections", site);
  if ("connected" in outcome) url.searchParams.set("connected", outcome.connected);
  else {
    url.searchParams.set("error", /^[a-z_]{1,40}$/.test(outcome.error) ? outcome.error : "server_error");
    if (outcome.provider) url.searchParams.set("provider", outcome.provider);
  }
  return new Response(null, { status: 302, headers: { Location: url.toString(), ...NO_STORE, ...headers } });
}

/** True when the navigation came from the dashboard (Origin, else Referer). */
function fromDashboard(req: Request): boolean {
  const dash = dashboardOrigin();
  if (dash === null) return false;
  const origin = req.headers.get("Origin");
  if (origin !== null) return origin === dash;
  const referer = req.headers.get("Referer");
  if (referer === null) return false;
  try {
    return new URL(referer).origin === dash;
  } catch {
    return false;
  }
}

export const startRoute = httpAction(async (ctx, req) => {
  const url = new URL(req.url);
  const provider = providerOf(url, START);
  const state = url.searchParams.get("state") ?? "";
  if (provider === null) return text(404, "unknown OAuth provider");
  if (state.length === 0 || state.length > 256) return toDashboard({ error: "invalid_request", provider });
  if (!fromDashboard(req)) {
    return text(403, "Start connecting accounts from the keyhole dashboard (this link only works from there).");
  }
  const binding = randomToken(32);
  let bound: { ok: true; authUrl: string } | { ok: false; reason: string };
  try {
    bound = await ctx.runMutation(internal.oauth.bindBrowser, { state, provider, bindingHash: await sha256Hex(binding) });
  } catch {
    bound = { ok: false, reason: "unknown_provider" };
  }
  if (!bound.ok) return toDashboard({ error: bound.reason, provider });
  const name = cookieName(await sha256Hex(state));
  return new Response(null, {
    status: 302,
    headers: { Location: bound.authUrl, "Set-Cookie": cookie(name, binding, provider, STATE_TTL_MS / 1000), ...NO_STORE },
  });
});

export const callbackRoute = httpAction(async (ctx, req) => {
  const url = new URL(req.url);
  const provider = providerOf(url, CALLBACK);
  if (provider === null) return text(404, "unknown OAuth provider");
  const state = url.searchParams.get("state") ?? "";
  const code = url.searchParams.get("code") ?? "";
  const providerError = url.searchParams.get("error");
  if (state.length === 0 || state.length > 256) return toDashboard({ error: "invalid_request", provider });

  const stateHash = await sha256Hex(state);
  const name = cookieName(stateHash);
  const binding = readCookie(req, name);
  const bindingHash = binding ? await sha256Hex(binding) : "";
  const clear = { "Set-Cookie": cookie(name, "", provider, 0) };

  if (providerError !== null) {
    // The person said no (or the provider failed): burn the state all the same.
    await ctx.runMutation(internal.oauth.consumeState, { stateHash, provider, mode: { kind: "browser", bindingHash } });
    return toDashboard({ error: providerError === "access_denied" ? "access_denied" : "provider_error", provider }, clear);
  }
  let outcome: Awaited<ReturnType<typeof tryComplete>>;
  try {
    outcome = await tryComplete(ctx, { provider, code, state, mode: { kind: "browser", bindingHash } });
  } catch (e) {
    console.error(`oauth callback (${provider}) failed unexpectedly: ${e instanceof Error ? e.name : "error"}`);
    return toDashboard({ error: "server_error", provider }, clear);
  }
  if (!outcome.ok) {
    console.warn(`oauth callback (${provider}) failed: ${outcome.reason}`);
    return toDashboard({ error: outcome.reason, provider }, clear);
  }
  return toDashboard({ connected: provider }, clear);
});
