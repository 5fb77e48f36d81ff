/**
 * Which backend and which credential a command uses.
 *
 * URL: --url, else KEYHOLE_URL, else the URL of the stored login, else the
 * embedded backend (http://127.0.0.1:3210).
 * Credential: the stored login (from `keyhole login`), refreshed when its JWT
 * has expired; or, for commands an agent may run, KEYHOLE_TOKEN first.
 */
import { ConvexHttpClient } from "convex/browser";
import { api } from "../../convex/_generated/api.js";
import { type Credentials, jwtExpiresAt, loadCredentials, saveCredentials } from "./credentials";
import { CliError, UsageError } from "./errors";
import { userAgent } from "./version";

export const DEFAULT_URL = "http://127.0.0.1:3210";

/** Refresh this long before `exp`, so a call never races the expiry. */
const REFRESH_MARGIN_MS = 60_000;

export type GlobalOptions = { url?: string };

export function normalizeUrl(raw: string, from: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new UsageError(`${from} "${raw}" is not a URL (e.g. http://127.0.0.1:3210)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`${from} "${raw}" must start with http:// or https://`);
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new UsageError(`${from} "${raw}" must be a plain deployment URL (no credentials, query or fragment)`);
  }
  return u.toString().replace(/\/+$/, "");
}

/** The URL given explicitly (flag or env), if any. */
export function explicitUrl(opts: GlobalOptions): string | undefined {
  if (opts.url !== undefined) return normalizeUrl(opts.url, "--url");
  const env = process.env.KEYHOLE_URL;
  if (env !== undefined && env.trim() !== "") return normalizeUrl(env, "KEYHOLE_URL");
  return undefined;
}

let lastUrl: string | undefined;

/** The backend the last client was made for (for "cannot reach" messages). */
export function currentUrl(): string | undefined {
  return lastUrl;
}

/** fetch with the CLI's User-Agent, so sign-ins and last-use records say "keyhole CLI on <OS>". */
const fetchAsCli: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set("User-Agent", userAgent());
  return fetch(input, { ...init, headers });
};

export function makeClient(url: string, auth?: string): ConvexHttpClient {
  lastUrl = url;
  const client = new ConvexHttpClient(url, { logger: false, fetch: fetchAsCli });
  if (auth !== undefined) client.setAuth(auth);
  return client;
}

export type Authed = {
  client: ConvexHttpClient;
  url: string;
  source: "login" | "KEYHOLE_TOKEN";
  email?: string;
};

export const PAT_REFUSAL =
  "token management needs an interactive sign-in: run keyhole login; a PAT cannot create or revoke PATs " +
  "(KEYHOLE_TOKEN is set, but no login is stored)";

/** The stored login, refreshed if needed. Refuses when there is none. */
export async function loginClient(opts: GlobalOptions): Promise<Authed> {
  const url = explicitUrl(opts); // a malformed URL is a usage error, whatever else is wrong
  const creds = loadCredentials();
  if (creds === null) {
    if (process.env.KEYHOLE_TOKEN) throw new CliError(PAT_REFUSAL);
    throw new CliError("not signed in: run keyhole login");
  }
  if (url !== undefined && url !== creds.url) {
    throw new CliError(`signed in to ${creds.url}, not ${url}: run keyhole login --url ${url}`);
  }
  const fresh = await ensureFresh(creds);
  return { client: makeClient(fresh.url, fresh.token), url: fresh.url, source: "login", email: fresh.email };
}

/** KEYHOLE_TOKEN when set (a PAT or agent session), else the stored login. */
export async function agentClient(opts: GlobalOptions): Promise<Authed> {
  const token = process.env.KEYHOLE_TOKEN?.trim();
  if (token) {
    const url = explicitUrl(opts) ?? loadCredentialsQuietly()?.url ?? DEFAULT_URL;
    return { client: makeClient(url, token), url, source: "KEYHOLE_TOKEN" };
  }
  return await loginClient(opts);
}

/** A client with no credential, for calls whose argument is the credential. */
export function anonymousClient(opts: GlobalOptions): { client: ConvexHttpClient; url: string } {
  const url = explicitUrl(opts) ?? loadCredentialsQuietly()?.url ?? DEFAULT_URL;
  return { client: makeClient(url), url };
}

export function loadCredentialsQuietly(): Credentials | null {
  try {
    return loadCredentials();
  } catch {
    return null;
  }
}

/** Exchanges the refresh token for a new pair when the access token is (nearly) expired. */
export async function ensureFresh(creds: Credentials, now = Date.now()): Promise<Credentials> {
  const exp = jwtExpiresAt(creds.token);
  if (exp !== null && exp - REFRESH_MARGIN_MS > now) return creds;
  const client = makeClient(creds.url);
  let result: { tokens?: { token: string; refreshToken: string } | null };
  try {
    result = await client.action(api.auth.signIn, { refreshToken: creds.refreshToken });
  } catch (e) {
    if (e instanceof TypeError) throw e; // network: say so, don't claim the sign-in expired
    result = { tokens: null };
  }
  if (!result.tokens) throw new CliError("your sign-in has expired: run keyhole login");
  const next = { ...creds, token: result.tokens.token, refreshToken: result.tokens.refreshToken };
  saveCredentials(next);
  return next;
}
