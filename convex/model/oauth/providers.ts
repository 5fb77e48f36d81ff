/**
 * OAuth providers, configured entirely from env (parsed with zod, read on
 * every call so `npx convex env set` takes effect without a deploy):
 *
 *   github   KEYHOLE_GITHUB_CLIENT_ID, KEYHOLE_GITHUB_CLIENT_SECRET
 *            [KEYHOLE_GITHUB_AUTHORIZE_URL, _TOKEN_URL, _API_URL, _DEFAULT_SCOPES, _PKCE]
 *   slack    KEYHOLE_SLACK_CLIENT_ID, KEYHOLE_SLACK_CLIENT_SECRET
 *            [KEYHOLE_SLACK_AUTHORIZE_URL, _API_URL, _DEFAULT_SCOPES, _PKCE]
 *   oauth2   KEYHOLE_OAUTH2_AUTHORIZE_URL, _TOKEN_URL, _CLIENT_ID
 *            [_CLIENT_SECRET, _REVOCATION_URL, _USERINFO_URL, _DEFAULT_SCOPES,
 *             _PKCE (default true), _TOKEN_AUTH (basic|post), _NAME]
 *
 * A provider is configured when its client id is set. Endpoints must be
 * https (plain http only for loopback hosts, for tests and local stubs).
 * Redirect URIs: KEYHOLE_OAUTH_REDIRECT_URIS (comma-separated, exact match),
 * plus this deployment's own callback `${CONVEX_SITE_URL}/oauth/callback/<provider>`.
 */
import { z } from "zod";
import { keyholeError } from "../errors";
import { siteUrl } from "../keys";

export const PROVIDER_IDS = ["github", "slack", "oauth2"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export type ProviderConfig = {
  id: ProviderId;
  displayName: string;
  clientId: string;
  clientSecret?: string;
  authorizeUrl: string;
  tokenUrl: string;
  userInfoUrl?: string;
  revocationUrl?: string;
  defaultScopes: string[];
  /** PKCE S256 (never `plain`). */
  pkce: boolean;
  /** How the client authenticates at the token endpoint. */
  tokenAuth: "basic" | "post";
  /** Joins scopes in the authorize URL. */
  scopeDelimiter: " " | ",";
  /** Query parameter carrying scopes (Slack user tokens use `user_scope`). */
  scopeParam: "scope" | "user_scope";
};

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** https anywhere; http only on loopback. */
const endpoint = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname));
  } catch {
    return false;
  }
}, "must be an https URL (http only for 127.0.0.1/localhost)");

const scopeList = z
  .string()
  .optional()
  .transform((s) => (s ?? "").split(/[\s,]+/).filter((x) => x.length > 0));

const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .optional()
    .transform((s) => (s === undefined ? fallback : s === "true" || s === "1" || s === "yes"));

const nonEmpty = z.string().min(1);

const githubEnv = z.object({
  KEYHOLE_GITHUB_CLIENT_ID: nonEmpty,
  KEYHOLE_GITHUB_CLIENT_SECRET: nonEmpty,
  KEYHOLE_GITHUB_AUTHORIZE_URL: endpoint.default("https://github.com/login/oauth/authorize"),
  KEYHOLE_GITHUB_TOKEN_URL: endpoint.default("https://github.com/login/oauth/access_token"),
  KEYHOLE_GITHUB_API_URL: endpoint.default("https://api.github.com"),
  KEYHOLE_GITHUB_DEFAULT_SCOPES: scopeList,
  KEYHOLE_GITHUB_PKCE: flag(true),
});

const slackEnv = z.object({
  KEYHOLE_SLACK_CLIENT_ID: nonEmpty,
  KEYHOLE_SLACK_CLIENT_SECRET: nonEmpty,
  KEYHOLE_SLACK_AUTHORIZE_URL: endpoint.default("https://slack.com/oauth/v2/authorize"),
  KEYHOLE_SLACK_API_URL: endpoint.default("https://slack.com/api"),
  KEYHOLE_SLACK_DEFAULT_SCOPES: scopeList,
  KEYHOLE_SLACK_PKCE: flag(false),
});

const oauth2Env = z.object({
  KEYHOLE_OAUTH2_CLIENT_ID: nonEmpty,
  KEYHOLE_OAUTH2_CLIENT_SECRET: z.string().optional(),
  KEYHOLE_OAUTH2_AUTHORIZE_URL: endpoint,
  KEYHOLE_OAUTH2_TOKEN_URL: endpoint,
  KEYHOLE_OAUTH2_REVOCATION_URL: endpoint.optional(),
  KEYHOLE_OAUTH2_USERINFO_URL: endpoint.optional(),
  KEYHOLE_OAUTH2_DEFAULT_SCOPES: scopeList,
  KEYHOLE_OAUTH2_PKCE: flag(true),
  KEYHOLE_OAUTH2_TOKEN_AUTH: z.enum(["basic", "post"]).default("basic"),
  KEYHOLE_OAUTH2_NAME: z.string().min(1).max(64).default("OAuth2"),
});

const trimBase = (u: string) => u.replace(/\/+$/, "");

type Env = Record<string, string | undefined>;
type Parsed = { config?: ProviderConfig; problem?: string };

/** Names the env variables that failed, never their values. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ");
}

function cleanEnv(env: Env, prefix: string): Env {
  // Treat empty strings as unset, so `npx convex env set X ""` disables a default.
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith(prefix) && v !== undefined && v.trim() !== "") out[k] = v.trim();
  return out;
}

function parseProvider(id: ProviderId, env: Env): Parsed {
  switch (id) {
    case "github": {
      const e = cleanEnv(env, "KEYHOLE_GITHUB_");
      if (!e.KEYHOLE_GITHUB_CLIENT_ID) return {};
      const r = githubEnv.safeParse(e);
      if (!r.success) return { problem: describeIssues(r.error) };
      const api = trimBase(r.data.KEYHOLE_GITHUB_API_URL);
      return {
        config: {
          id,
          displayName: "GitHub",
          clientId: r.data.KEYHOLE_GITHUB_CLIENT_ID,
          clientSecret: r.data.KEYHOLE_GITHUB_CLIENT_SECRET,
          authorizeUrl: r.data.KEYHOLE_GITHUB_AUTHORIZE_URL,
          tokenUrl: r.data.KEYHOLE_GITHUB_TOKEN_URL,
          userInfoUrl: `${api}/user`,
          // DELETE /applications/{client_id}/grant revokes the whole grant.
          revocationUrl: `${api}/applications/${encodeURIComponent(r.data.KEYHOLE_GITHUB_CLIENT_ID)}/grant`,
          defaultScopes: r.data.KEYHOLE_GITHUB_DEFAULT_SCOPES.length ? r.data.KEYHOLE_GITHUB_DEFAULT_SCOPES : ["read:user"],
          pkce: r.data.KEYHOLE_GITHUB_PKCE,
          tokenAuth: "post",
          scopeDelimiter: " ",
          scopeParam: "scope",
        },
      };
    }
    case "slack": {
      const e = cleanEnv(env, "KEYHOLE_SLACK_");
      if (!e.KEYHOLE_SLACK_CLIENT_ID) return {};
      const r = slackEnv.safeParse(e);
      if (!r.success) return { problem: describeIssues(r.error) };
      const api = trimBase(r.data.KEYHOLE_SLACK_API_URL);
      return {
        config: {
          id,
          displayName: "Slack",
          clientId: r.data.KEYHOLE_SLACK_CLIENT_ID,
          clientSecret: r.data.KEYHOLE_SLACK_CLIENT_SECRET,
          authorizeUrl: r.data.KEYHOLE_SLACK_AUTHORIZE_URL,
          tokenUrl: `${api}/oauth.v2.access`,
          userInfoUrl: undefined, // the token answer names the user and team
          revocationUrl: `${api}/auth.revoke`,
          defaultScopes: r.data.KEYHOLE_SLACK_DEFAULT_SCOPES.length ? r.data.KEYHOLE_SLACK_DEFAULT_SCOPES : ["users:read"],
          pkce: r.data.KEYHOLE_SLACK_PKCE,
          tokenAuth: "post",
          scopeDelimiter: ",",
          scopeParam: "user_scope",
        },
      };
    }
    case "oauth2": {
      const e = cleanEnv(env, "KEYHOLE_OAUTH2_");
      if (!e.KEYHOLE_OAUTH2_CLIENT_ID) return {};
      const r = oauth2Env.safeParse(e);
      if (!r.success) return { problem: describeIssues(r.error) };
      return {
        config: {
          id,
          displayName: r.data.KEYHOLE_OAUTH2_NAME,
          clientId: r.data.KEYHOLE_OAUTH2_CLIENT_ID,
          clientSecret: r.data.KEYHOLE_OAUTH2_CLIENT_SECRET,
          authorizeUrl: r.data.KEYHOLE_OAUTH2_AUTHORIZE_URL,
          tokenUrl: r.data.KEYHOLE_OAUTH2_TOKEN_URL,
          userInfoUrl: r.data.KEYHOLE_OAUTH2_USERINFO_URL,
          revocationUrl: r.data.KEYHOLE_OAUTH2_REVOCATION_URL,
          defaultScopes: r.data.KEYHOLE_OAUTH2_DEFAULT_SCOPES,
          pkce: r.data.KEYHOLE_OAUTH2_PKCE,
          tokenAuth: r.data.KEYHOLE_OAUTH2_CLIENT_SECRET ? r.data.KEYHOLE_OAUTH2_TOKEN_AUTH : "post",
          scopeDelimiter: " ",
          scopeParam: "scope",
        },
      };
    }
  }
}

/** Every configured provider (misconfigured ones are left out and reported in `problems`). */
export function configuredProviders(env: Env = process.env): {
  providers: ProviderConfig[];
  problems: { provider: ProviderId; problem: string }[];
} {
  const providers: ProviderConfig[] = [];
  const problems: { provider: ProviderId; problem: string }[] = [];
  for (const id of PROVIDER_IDS) {
    const p = parseProvider(id, env);
    if (p.config) providers.push(p.config);
    if (p.problem) problems.push({ provider: id, problem: p.problem });
  }
  return { providers, problems };
}

/** The provider's config, or `invalid_argument` naming the configured ones. */
export function requireProvider(provider: string, env: Env = process.env): ProviderConfig {
  const id = (PROVIDER_IDS as readonly string[]).includes(provider) ? (provider as ProviderId) : null;
  if (id !== null) {
    const p = parseProvider(id, env);
    if (p.config) return p.config;
    if (p.problem) {
      throw keyholeError("invalid_argument", `provider "${id}" is misconfigured on this deployment: ${p.problem}`);
    }
  }
  const names = configuredProviders(env).providers.map((c) => c.id);
  const shown = provider.length > 40 ? `${provider.slice(0, 40)}…` : provider;
  throw keyholeError(
    "invalid_argument",
    `OAuth provider "${shown}" is not configured; configured: ${names.length ? names.join(", ") : "none"}`,
  );
}

/** This deployment's own browser callback for a provider (always allowed). */
export function callbackUrl(provider: ProviderId): string {
  return `${siteUrl()}/oauth/callback/${provider}`;
}

/** Exact-match redirect URIs for a provider: env allowlist + our own callback. */
export function allowedRedirectUris(provider: ProviderId, env: Env = process.env): string[] {
  const listed = (env.KEYHOLE_OAUTH_REDIRECT_URIS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return [...listed, callbackUrl(provider)];
}

/** Throws `invalid_argument` unless `redirectUri` is allowlisted exactly (no prefix, no normalization). */
export function requireAllowedRedirect(provider: ProviderId, redirectUri: string, env: Env = process.env): void {
  if (!allowedRedirectUris(provider, env).includes(redirectUri)) {
    throw keyholeError(
      "invalid_argument",
      "redirectUri is not allowlisted: it must exactly match an entry of KEYHOLE_OAUTH_REDIRECT_URIS or this deployment's /oauth/callback/" +
        provider,
    );
  }
}

/** RFC 6749 scope-token: printable ASCII without space, `"` or `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;

/** Requested scopes, validated; empty → the provider's defaults. */
export function normalizeRequestedScopes(cfg: ProviderConfig, scopes: string[]): string[] {
  if (scopes.length > 50) throw keyholeError("invalid_argument", "at most 50 scopes");
  const out: string[] = [];
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s) || (cfg.scopeDelimiter === "," && s.includes(","))) {
      throw keyholeError("invalid_argument", `scope "${s.slice(0, 60)}" is not a valid OAuth scope`);
    }
    if (!out.includes(s)) out.push(s);
  }
  return out.length > 0 ? out : [...cfg.defaultScopes];
}
