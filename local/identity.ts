/**
 * Turns a bearer JWT into a Convex UserIdentity exactly as convex/auth.config.ts
 * says, the way the real backend does:
 * - OIDC-style providers `{domain, applicationID}`: `iss` must equal the
 *   domain, `aud` must contain applicationID; keys come from
 *   `${domain}/.well-known/openid-configuration` → `jwks_uri`.
 * - `customJwt` providers `{issuer, jwks, algorithm, applicationID?}`: `iss`
 *   must equal issuer, the algorithm is pinned, `aud` is checked when
 *   applicationID is set; jwks is a URL or a `data:` URI.
 * Signatures, `iss`, `aud`, `exp` (and `nbf`) are verified with jose.
 *
 * URLs on this backend's own site origin are resolved in-process through the
 * HTTP router (no socket); others with a real fetch. Key sets are cached
 * briefly and refetched when a token names an unknown `kid`.
 *
 * A verified token is remembered (exact string → identity) while the key set
 * that verified it is still the cached one and the token is unexpired: the
 * same answer a fresh check would give, without a signature check per
 * request (a client sends the same token many times). Bounded (VERIFIED_MAX).
 */
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from "jose";
import type { UserIdentity } from "convex/server";
import { isCanonicalBase64url } from "../convex/model/crypto.js";
import { AuthError, serdeJsonAccepts, toIdentity } from "./claims.js";

export { AuthError, toIdentity };

export type AuthProvider =
  | { domain: string; applicationID: string; type?: undefined }
  | { type: "customJwt"; issuer: string; jwks: string; algorithm: string; applicationID?: string };

/** Fetches a URL's body as text: in-process for our own site, else `fetch`. */
export type UrlFetcher = (url: string) => Promise<{ status: number; text: string }>;

const UNPARSABLE = "Could not parse JWT payload. Check that the token is a valid JWT format.";

const JWKS_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;
const MIN_REFETCH_MS = 1_000;

type KeySet = { fetchedAt: number; jwks: JSONWebKeySet; get: ReturnType<typeof createLocalJWKSet> };

const trimSlash = (s: string) => s.replace(/\/+$/, "");

type Verified = { identity: UserIdentity; expiresAt: number | null; ks: KeySet; ksKey: string };

export class IdentityVerifier {
  private cache = new Map<string, KeySet>();
  private inflight = new Map<string, Promise<KeySet>>();
  private verified = new Map<string, Verified>();
  /** Signature checks made (tests count them). */
  readonly stats = { signatureChecks: 0 };

  constructor(
    private readonly providers: AuthProvider[],
    private readonly fetchUrl: UrlFetcher,
  ) {}

  /** Verifies a token; returns the identity and its expiry (ms) or throws AuthError. */
  async verify(token: string): Promise<{ identity: UserIdentity; expiresAt: number | null }> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      const now = Date.now();
      // As jose decides: expired when exp <= now (whole seconds); the key set must still be the live one.
      const live = known.expiresAt === null || Math.floor(now / 1000) * 1000 < known.expiresAt;
      if (live && this.cache.get(known.ksKey) === known.ks && now - known.ks.fetchedAt < JWKS_TTL_MS) {
        return { identity: { ...known.identity }, expiresAt: known.expiresAt };
      }
      this.verified.delete(token);
    }
    if (typeof token !== "string" || token.length === 0 || token.length > 16384) {
      throw new AuthError("Invalid token: empty or too large");
    }
    if (!token.split(".").every(isCanonicalBase64url)) {
      // jose ignores a last character's spare bits; refuse every spelling but one.
      throw new AuthError(UNPARSABLE);
    }
    let claims: JWTPayload;
    let header: { alg?: string; kid?: string };
    try {
      claims = decodeJwt(token);
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthError(UNPARSABLE);
    }
    // Payloads serde_json refuses (too deep, lone surrogates) do not parse on Convex
    // (claims.ts), nor does a non-string `jti`: every payload is first read as
    // biscuit's RegisteredClaims to pick its provider (crates/authentication/src/lib.rs).
    const jti: unknown = claims.jti;
    if (!serdeJsonAccepts(claims) || (jti !== undefined && jti !== null && typeof jti !== "string")) {
      throw new AuthError(UNPARSABLE);
    }
    if (typeof claims.iss !== "string") throw new AuthError("Token is missing the `iss` claim");
    const candidates = this.providers.filter((p) =>
      p.type === "customJwt" ? trimSlash(p.issuer) === trimSlash(claims.iss!) : trimSlash(p.domain ?? "") === trimSlash(claims.iss!),
    );
    if (candidates.length === 0) {
      throw new AuthError(
        "No auth provider found matching the given token (no issuer matches `iss`). Check your server auth config.",
      );
    }
    let lastError: unknown = null;
    for (const p of candidates) {
      try {
        const { payload, ks, ksKey } = await this.verifyWith(p, token, header);
        if (typeof payload.sub !== "string" || payload.sub === "") throw new AuthError("Token is missing the `sub` claim");
        const out = { identity: toIdentity(payload, p.type === "customJwt" ? "customJwt" : "oidc"), expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : null };
        this.remember(token, { ...out, ks, ksKey });
        // A copy: callers may not change what the next request gets.
        return { identity: { ...out.identity }, expiresAt: out.expiresAt };
      } catch (e) {
        lastError = e;
      }
    }
    if (lastError instanceof joseErrors.JWTExpired) throw new AuthError("Token expired");
    if (lastError instanceof joseErrors.JWTClaimValidationFailed) {
      throw new AuthError(`Could not verify token claim: ${lastError.claim} ${lastError.reason}`);
    }
    if (lastError instanceof AuthError) throw lastError;
    throw new AuthError(
      "Could not verify token signature. Check that the token is signed by a key of the matching provider.",
    );
  }

  private remember(token: string, v: Verified) {
    if (this.verified.size >= VERIFIED_MAX) {
      // Drop the oldest entry (Map keeps insertion order).
      this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(token, v);
  }

  private async verifyWith(
    p: AuthProvider,
    token: string,
    header: { alg?: string; kid?: string },
  ): Promise<{ payload: JWTPayload; ks: KeySet; ksKey: string }> {
    let issuer: string;
    let audience: string | undefined;
    let algorithms: string[];
    if (p.type === "customJwt") {
      issuer = p.issuer;
      audience = p.applicationID;
      algorithms = [p.algorithm];
    } else {
      issuer = p.domain;
      audience = p.applicationID;
      algorithms = ["RS256", "ES256"];
    }
    if (!header.alg || !algorithms.includes(header.alg)) {
      throw new AuthError(`Token algorithm ${String(header.alg)} is not allowed (expected ${algorithms.join(" or ")})`);
    }
    const source: { jwks: string } | { discovery: string } =
      p.type === "customJwt" ? { jwks: p.jwks } : { discovery: `${trimSlash(p.domain)}/.well-known/openid-configuration` };
    const cacheKey = "jwks" in source ? source.jwks : source.discovery;
    let ks = await this.keySet(cacheKey, source, false);
    const verifyOnce = (k: KeySet) => {
      this.stats.signatureChecks++;
      return jwtVerify(token, k.get, {
        // Real Convex accepts the issuer with or without a trailing slash.
        issuer: [issuer, trimSlash(issuer), `${trimSlash(issuer)}/`],
        audience,
        algorithms,
      });
    };
    try {
      return { payload: (await verifyOnce(ks)).payload, ks, ksKey: cacheKey };
    } catch (e) {
      // A key we don't know yet (rotation): refetch once, then retry.
      if (e instanceof joseErrors.JWKSNoMatchingKey && Date.now() - ks.fetchedAt > MIN_REFETCH_MS) {
        ks = await this.keySet(cacheKey, source, true);
        return { payload: (await verifyOnce(ks)).payload, ks, ksKey: cacheKey };
      }
      throw e;
    }
  }

  private async keySet(key: string, source: { jwks: string } | { discovery: string }, force: boolean): Promise<KeySet> {
    const cached = this.cache.get(key);
    if (cached && !force && Date.now() - cached.fetchedAt < JWKS_TTL_MS) return cached;
    let p = this.inflight.get(key);
    if (!p) {
      p = (async () => {
        let jwks: JSONWebKeySet;
        if ("jwks" in source) {
          jwks = await this.loadJwks(source.jwks);
        } else {
          const disc = await this.getJson(source.discovery);
          const uri = (disc as { jwks_uri?: unknown }).jwks_uri;
          if (typeof uri !== "string") throw new AuthError(`${source.discovery} has no jwks_uri`);
          jwks = await this.loadJwks(uri);
        }
        const ks: KeySet = { fetchedAt: Date.now(), jwks, get: createLocalJWKSet(jwks) };
        this.cache.set(key, ks);
        return ks;
      })().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    try {
      return await p;
    } catch (e) {
      // Serve a stale key set rather than fail when the source is briefly down.
      if (cached) return cached;
      throw e instanceof AuthError ? e : new AuthError(`Could not load the provider's keys: ${(e as Error).message}`);
    }
  }

  private async loadJwks(uri: string): Promise<JSONWebKeySet> {
    if (uri.startsWith("data:")) {
      const comma = uri.indexOf(",");
      const meta = uri.slice(5, comma);
      const body = uri.slice(comma + 1);
      const text = meta.endsWith(";base64") ? Buffer.from(body, "base64").toString("utf8") : decodeURIComponent(body);
      return JSON.parse(text) as JSONWebKeySet;
    }
    const json = (await this.getJson(uri)) as JSONWebKeySet;
    if (!json || !Array.isArray(json.keys)) throw new AuthError(`${uri} is not a JWKS`);
    return json;
  }

  private async getJson(url: string): Promise<unknown> {
    const { status, text } = await this.fetchUrl(url);
    if (status !== 200) throw new AuthError(`GET ${url} returned ${status}`);
    return JSON.parse(text);
  }
}

/** Reads `providers` from the auth config module's default export. */
export function providersOf(config: unknown): AuthProvider[] {
  const providers = (config as { providers?: unknown } | undefined)?.providers;
  if (!Array.isArray(providers)) return [];
  return providers.filter((p): p is AuthProvider => {
    if (!p || typeof p !== "object") return false;
    const q = p as Record<string, unknown>;
    if (q.type === "customJwt") return typeof q.issuer === "string" && typeof q.jwks === "string" && typeof q.algorithm === "string";
    return typeof q.domain === "string" && typeof q.applicationID === "string";
  });
}
