/**
 * Talking to the provider (actions only: these use fetch): code exchange,
 * refresh, account identity, revocation. Provider answers are classified into
 * a few failure kinds; nothing secret (codes, tokens, client secret, provider
 * error descriptions that may echo them) ever lands in an error message.
 */
import { keyholeError } from "../errors";
import type { ProviderConfig } from "./providers";

export const PROVIDER_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 256 * 1024;

export type TokenSet = {
  accessToken: string;
  refreshToken?: string;
  tokenType?: string;
  /** Seconds, as the provider said. */
  expiresIn?: number;
  /** Scopes as the provider returned them; null when it did not say. */
  scopes: string[] | null;
  /** Slack names the account in the token answer. */
  account?: Account;
};

export type Account = { accountId?: string; accountLogin?: string };

export type FailureKind = "denied" | "bad_grant" | "unreachable" | "malformed" | "provider_error";

/** A provider failure; `providerCode` is the provider's `error` code, sanitized. */
export class ProviderError extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly detail: string,
    readonly providerCode?: string,
  ) {
    super(`${kind}: ${detail}`);
    this.name = "ProviderError";
  }
}

const DENIED = new Set(["access_denied", "consent_required", "interaction_required", "login_required"]);
const BAD_GRANT = new Set([
  "invalid_grant",
  "invalid_request", // e.g. a code the server never issued (PKCE lookup fails)
  "bad_verification_code",
  "invalid_code",
  "code_already_used",
  "code_expired",
  "expired_token",
  "invalid_refresh_token",
  "token_expired",
  "token_revoked",
  "invalid_token",
  "bad_refresh_token",
]);

function sanitizeCode(v: unknown): string {
  return typeof v === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(v) ? v : "unknown_error";
}

function classify(code: string): FailureKind {
  if (DENIED.has(code)) return "denied";
  if (BAD_GRANT.has(code)) return "bad_grant";
  return "provider_error";
}

/** Maps a provider failure to the user-facing error (`what` = "authorization code" | "refresh token"). */
export function toKeyholeError(cfg: ProviderConfig, e: ProviderError, what = "authorization code") {
  const name = cfg.displayName;
  const code = e.providerCode ? ` (${e.providerCode})` : "";
  switch (e.kind) {
    case "denied":
      return keyholeError("forbidden", `${name} denied access${code}`);
    case "bad_grant":
      return keyholeError("invalid_argument", `${name} rejected the ${what}${code}: start the connection again`);
    case "unreachable":
      return keyholeError("conflict", `could not reach ${name} (${e.detail}): try again later`);
    case "malformed":
      return keyholeError("conflict", `${name} sent a malformed answer (${e.detail})`);
    case "provider_error":
      return keyholeError("conflict", `${name} refused the request (${e.detail}${e.providerCode ? `: ${e.providerCode}` : ""})`);
  }
}

type Answer = { status: number; body: Record<string, unknown> | null; text: string };

/** fetch with a timeout; network failures become `unreachable`. Never logs URLs or bodies. */
async function call(url: string, init: RequestInit, parse: "json" | "json-or-form" | "none"): Promise<Answer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), PROVIDER_TIMEOUT_MS);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, signal: controller.signal, redirect: "manual" });
    text = await res.text();
  } catch (e) {
    const timedOut = controller.signal.aborted;
    throw new ProviderError("unreachable", timedOut ? "timed out" : `network error: ${errorName(e)}`);
  } finally {
    clearTimeout(timer);
  }
  if (text.length > MAX_ANSWER_BYTES) throw new ProviderError("malformed", "answer too large");
  if (parse === "none") return { status: res.status, body: null, text: "" };
  let body: Record<string, unknown> | null = null;
  const type = res.headers.get("content-type") ?? "";
  if (text.trim() !== "") {
    if (parse === "json-or-form" && type.includes("application/x-www-form-urlencoded")) {
      body = Object.fromEntries(new URLSearchParams(text));
    } else {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        body = null;
      }
    }
  }
  return { status: res.status, body, text };
}

function errorName(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (typeof cause === "string" && /^[A-Z_]{1,32}$/.test(cause)) return cause;
  return e instanceof Error && /^[A-Za-z]{1,40}$/.test(e.name) ? e.name : "fetch failed";
}

function basic(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode both parts before base64.
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  const raw = new TextEncoder().encode(`${enc(id)}:${enc(secret)}`);
  let bin = "";
  for (const b of raw) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

/** Client authentication for the token and revocation endpoints. */
function clientAuth(cfg: ProviderConfig, form: URLSearchParams, headers: Record<string, string>): void {
  if (cfg.clientSecret && cfg.tokenAuth === "basic") {
    headers.Authorization = basic(cfg.clientId, cfg.clientSecret);
  } else {
    form.set("client_id", cfg.clientId);
    if (cfg.clientSecret) form.set("client_secret", cfg.clientSecret);
  }
}

function num(v: unknown): number | undefined | "bad" {
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : "bad";
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function scopesOf(v: unknown): string[] | null {
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === "string" && s.length > 0);
  if (typeof v !== "string") return null;
  return v.split(/[\s,]+/).filter((s) => s.length > 0);
}

/** Turns a token endpoint answer into a TokenSet or a ProviderError. */
function tokenSetOf(cfg: ProviderConfig, a: Answer): TokenSet {
  if (a.status >= 500) throw new ProviderError("unreachable", `HTTP ${a.status}`);
  const b = a.body;
  if (b === null) throw new ProviderError("malformed", `HTTP ${a.status}, not a JSON object`);
  // Slack answers 200 with ok:false; GitHub answers 200 with an `error` field.
  if (cfg.id === "slack" && b.ok !== true) {
    const code = sanitizeCode(b.error);
    throw new ProviderError(classify(code), "token endpoint error", code);
  }
  if (b.error !== undefined) {
    const code = sanitizeCode(b.error);
    throw new ProviderError(classify(code), "token endpoint error", code);
  }
  if (a.status >= 400) throw new ProviderError("provider_error", `HTTP ${a.status}`);
  if (a.status < 200 || a.status >= 300) throw new ProviderError("malformed", `HTTP ${a.status}`);

  let src: Record<string, unknown> = b;
  let account: Account | undefined;
  if (cfg.id === "slack") {
    const user = b.authed_user as Record<string, unknown> | undefined;
    const team = b.team as Record<string, unknown> | undefined;
    if (user && typeof user === "object" && typeof user.access_token === "string") src = user;
    const userId = user && typeof user === "object" ? str(user.id) : undefined;
    if (userId !== undefined) account = { accountId: userId, accountLogin: team && typeof team === "object" ? (str(team.name) ?? str(team.id)) : undefined };
  }
  const accessToken = str(src.access_token);
  if (accessToken === undefined) throw new ProviderError("malformed", "no access_token");
  if (accessToken.length > 16_384) throw new ProviderError("malformed", "access_token too long");
  const refresh = src.refresh_token;
  if (refresh !== undefined && refresh !== null && typeof refresh !== "string") {
    throw new ProviderError("malformed", "refresh_token is not a string");
  }
  const expiresIn = num(src.expires_in);
  if (expiresIn === "bad") throw new ProviderError("malformed", "expires_in is not a number");
  return {
    accessToken,
    refreshToken: str(refresh),
    tokenType: str(src.token_type),
    expiresIn,
    scopes: scopesOf(src.scope),
    account,
  };
}

async function tokenRequest(cfg: ProviderConfig, form: URLSearchParams): Promise<TokenSet> {
  const headers: Record<string, string> = {
    Accept: "application/json",
    "Content-Type": "application/x-www-form-urlencoded",
    "User-Agent": "keyhole",
  };
  clientAuth(cfg, form, headers);
  const answer = await call(cfg.tokenUrl, { method: "POST", headers, body: form.toString() }, "json-or-form");
  return tokenSetOf(cfg, answer);
}

/** Exchanges an authorization code (with the PKCE verifier when used). */
export async function exchangeCode(
  cfg: ProviderConfig,
  args: { code: string; redirectUri: string; verifier?: string },
): Promise<TokenSet> {
  const form = new URLSearchParams({ grant_type: "authorization_code", code: args.code, redirect_uri: args.redirectUri });
  if (args.verifier !== undefined) form.set("code_verifier", args.verifier);
  return await tokenRequest(cfg, form);
}

/** Uses a refresh token; the answer may carry a rotated refresh token. */
export async function refreshAccessToken(cfg: ProviderConfig, refreshToken: string): Promise<TokenSet> {
  const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken });
  return await tokenRequest(cfg, form);
}

/** Who the token belongs to at the provider. */
export async function fetchAccount(cfg: ProviderConfig, tokens: TokenSet): Promise<Account> {
  if (tokens.account) return tokens.account;
  if (!cfg.userInfoUrl) return {};
  const headers: Record<string, string> = {
    Authorization: `Bearer ${tokens.accessToken}`,
    Accept: cfg.id === "github" ? "application/vnd.github+json" : "application/json",
    "User-Agent": "keyhole",
  };
  const a = await call(cfg.userInfoUrl, { method: "GET", headers }, "json");
  if (a.status >= 500) throw new ProviderError("unreachable", `user info HTTP ${a.status}`);
  if (a.status === 401 || a.status === 403) {
    throw new ProviderError("provider_error", `user info refused the new token (HTTP ${a.status})`, sanitizeCode(a.body?.error));
  }
  if (a.status < 200 || a.status >= 300 || a.body === null) {
    throw new ProviderError("malformed", `user info HTTP ${a.status}`);
  }
  const b = a.body;
  const rawId = b.id ?? b.sub ?? b.user_id;
  const accountId = typeof rawId === "number" || typeof rawId === "string" ? String(rawId) : undefined;
  if (accountId === undefined || accountId.length === 0 || accountId.length > 256) {
    throw new ProviderError("malformed", "user info names no account id");
  }
  const login = str(b.login) ?? str(b.preferred_username) ?? str(b.email) ?? str(b.name);
  return { accountId, accountLogin: login?.slice(0, 256) };
}

export type RevokeOutcome = { attempted: boolean; ok: boolean; detail?: string };

/**
 * Best-effort revocation at the provider. GitHub: DELETE the app grant;
 * Slack: auth.revoke; generic: RFC 7009 (refresh token first, then access).
 */
export async function revokeAtProvider(
  cfg: ProviderConfig,
  tokens: { accessToken?: string; refreshToken?: string },
): Promise<RevokeOutcome> {
  if (!cfg.revocationUrl || (tokens.accessToken === undefined && tokens.refreshToken === undefined)) {
    return { attempted: false, ok: false };
  }
  try {
    if (cfg.id === "github") {
      if (!tokens.accessToken || !cfg.clientSecret) return { attempted: false, ok: false };
      const a = await call(
        cfg.revocationUrl,
        {
          method: "DELETE",
          headers: {
            Authorization: basic(cfg.clientId, cfg.clientSecret),
            Accept: "application/vnd.github+json",
            "Content-Type": "application/json",
            "User-Agent": "keyhole",
          },
          body: JSON.stringify({ access_token: tokens.accessToken }),
        },
        "none",
      );
      // 404: the grant is already gone, which is what we wanted.
      return { attempted: true, ok: a.status === 204 || a.status === 200 || a.status === 404, detail: `HTTP ${a.status}` };
    }
    if (cfg.id === "slack") {
      const token = tokens.accessToken ?? tokens.refreshToken!;
      const a = await call(
        cfg.revocationUrl,
        {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json", "User-Agent": "keyhole" },
          body: new URLSearchParams({ token }).toString(),
        },
        "json",
      );
      const ok = a.status === 200 && a.body?.ok === true;
      return { attempted: true, ok, detail: ok ? "ok" : `HTTP ${a.status} ${sanitizeCode(a.body?.error)}` };
    }
    let allOk = true;
    let detail = "";
    const order: [string | undefined, string][] = [
      [tokens.refreshToken, "refresh_token"],
      [tokens.accessToken, "access_token"],
    ];
    for (const [token, hint] of order) {
      if (token === undefined) continue;
      const form = new URLSearchParams({ token, token_type_hint: hint });
      const headers: Record<string, string> = {
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
        "User-Agent": "keyhole",
      };
      clientAuth(cfg, form, headers);
      const a = await call(cfg.revocationUrl, { method: "POST", headers, body: form.toString() }, "none");
      if (a.status !== 200) allOk = false;
      detail += `${hint}: HTTP ${a.status} `;
    }
    return { attempted: true, ok: allOk, detail: detail.trim() };
  } catch (e) {
    return { attempted: true, ok: false, detail: e instanceof ProviderError ? e.detail : "error" };
  }
}
