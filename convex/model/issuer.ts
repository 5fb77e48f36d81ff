/**
 * Where keyhole lives, as the rest of the code and convex/auth.config.ts see
 * it. No imports: auth.config.ts bundles this file, and Convex evaluates that
 * bundle in a sandbox (get-convex/convex-backend
 * crates/isolate/src/environment/auth_config.rs: no imports, no Date or
 * randomness, and reading an unset environment variable fails the push).
 */

const trimSlashes = (s: string) => s.trim().replace(/\/+$/, "");

/** CONVEX_SITE_URL (where HTTP actions are served), without trailing slashes. */
export function siteUrl(): string {
  const url = process.env.CONVEX_SITE_URL;
  if (!url) throw new Error("CONVEX_SITE_URL is not set");
  return trimSlashes(url);
}

/**
 * The `iss` of every keyhole token: KEYHOLE_ISSUER, without trailing
 * slashes. It is a name, not a location, set once (generated into the
 * embedded backend's env.json, printed by `npm run env:generate`) and kept
 * for good: a new site URL, a custom domain or a move to another deployment
 * must not change it, or every live PAT stops verifying. An http(s) URL, as
 * Convex requires of a customJwt issuer (convex-backend crates/common/src/auth.rs,
 * deserialize_issuer_url).
 */
export function keyholeIssuer(): string {
  const raw = process.env.KEYHOLE_ISSUER;
  if (raw === undefined || raw.trim() === "") {
    throw new Error("KEYHOLE_ISSUER is not set: the issuer of keyhole tokens (see docs/deploy.md)");
  }
  const issuer = trimSlashes(raw);
  if (!/^https?:\/\/[^/\s?#]+/.test(issuer)) {
    throw new Error("KEYHOLE_ISSUER must be an http(s) URL, e.g. https://keyhole.invalid/<id>");
  }
  return issuer;
}

/** What tokens carried before KEYHOLE_ISSUER existed (pinned on upgrade). */
export function legacyIssuer(site: string): string {
  return `${trimSlashes(site)}/keyhole`;
}
