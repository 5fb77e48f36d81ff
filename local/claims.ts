/**
 * JWT claims → the UserIdentity a Convex function sees, as the real backend
 * builds it (get-convex/convex-backend: crates/keybroker/src/broker.rs
 * `from_custom_jwt` / `from_token`; serialized by `UserIdentityAttributesJson`
 * in crates/convex/sync_types/src/types/json.rs). OIDC tokens are read the way
 * the openidconnect crate Convex uses reads them (get-convex/openidconnect-rs:
 * src/claims.rs, src/helpers.rs).
 */
import type { JWTPayload } from "jose";
import type { UserIdentity } from "convex/server";

export class AuthError extends Error {}

/**
 * serde_json's recursion limit: it starts at 128 and fails when the 128th
 * nested array/object opens, so a payload nests at most 127 containers
 * (serde_json src/de.rs `check_recursion!`). Convex refuses deeper payloads
 * while parsing them ("Could not parse JWT payload").
 */
const JSON_DEPTH_MAX = 127;

// In `u` mode a surrogate pair is one code point: only a lone surrogate is \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether serde_json would have parsed the JSON `value` came from: at most
 * JSON_DEPTH_MAX nested arrays/objects, and no string or key with a surrogate
 * left alone (it refuses a `\ud800` escape without its pair: "lone leading
 * surrogate in hex escape"). Iterative: no stack to exhaust, linear time.
 */
export function serdeJsonAccepts(value: unknown): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string" && LONE_SURROGATE.test(v)) return false;
    if (v === null || typeof v !== "object") continue;
    if (depth > JSON_DEPTH_MAX) return false;
    if (Array.isArray(v)) {
      for (const inner of v) stack.push([inner, depth + 1]);
    } else {
      for (const [key, inner] of Object.entries(v)) {
        if (LONE_SURROGATE.test(key)) return false;
        stack.push([inner, depth + 1]);
      }
    }
  }
  return true;
}

type Kind = "localized" | "string" | "boolean" | "address" | "time";
/**
 * The standard claims openidconnect reads itself (src/claims.rs, StandardClaims'
 * deserializer), with their types, and the UserIdentity field each becomes on
 * Convex, in `UserIdentityAttributesJson`'s order (none: read, then dropped).
 */
const STANDARD: ReadonlyArray<readonly [claim: string, kind: Kind, attribute: string | null]> = [
  ["name", "localized", "name"],
  ["given_name", "localized", "givenName"],
  ["family_name", "localized", "familyName"],
  ["middle_name", "localized", null],
  ["nickname", "localized", "nickname"],
  ["preferred_username", "string", "preferredUsername"],
  ["profile", "localized", "profileUrl"],
  ["picture", "localized", "pictureUrl"],
  ["website", "localized", "websiteUrl"],
  ["email", "string", "email"],
  ["email_verified", "boolean", "emailVerified"],
  ["gender", "string", "gender"],
  ["birthday", "string", null],
  ["birthdate", "string", "birthday"],
  ["zoneinfo", "string", "timezone"],
  ["locale", "string", "language"],
  ["phone_number", "string", "phoneNumber"],
  ["phone_number_verified", "boolean", "phoneNumberVerified"],
  ["address", "address", "address"],
  ["updated_at", "time", "updatedAt"],
];
const STANDARD_KIND = new Map<string, Kind>(STANDARD.map(([claim, kind]) => [claim, kind]));
/** The ID token's own fields (openidconnect src/id_token/mod.rs `IdTokenClaims`): never custom claims. */
const ID_TOKEN_FIELDS = new Set(["iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash"]);
/** Dropped by Convex because they change on every refresh (broker.rs `from_token`, `from_custom_jwt`). */
const VOLATILE = new Set(["jti", "nbf", "fva"]);
/** customJwt: biscuit's RegisteredClaims take these out of the private claims (biscuit src/lib.rs). */
const REGISTERED = new Set(["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]);

/**
 * Claims → UserIdentity:
 * - always `tokenIdentifier` (`iss|sub`), `issuer`, `subject`;
 * - OIDC: the standard claims as typed fields (`given_name` → `givenName`,
 *   `address` → its `formatted` text, `updated_at` → chrono's RFC 3339), then
 *   every other claim as it is; `middle_name`, `birthday` and language-tagged
 *   claims (`name#en`) are dropped; a standard claim of the wrong type refuses
 *   the token (AuthError), as openidconnect fails to read it;
 * - customJwt: no typed fields — every other claim under its own name, and a
 *   nested object's fields as dotted keys (`{"org": {"id": 1}}` → `"org.id": 1`,
 *   `extract_custom_jwt_claims`; of two that flatten to one name the later wins);
 * - custom claims come last, sorted by name (a `BTreeMap`), and one with the
 *   name of a field above replaces its value, as serde's flatten does there.
 */
export function toIdentity(claims: JWTPayload, provider: "customJwt" | "oidc" = "customJwt"): UserIdentity {
  const identity: Record<string, unknown> = {};
  // Own properties only: a claim named `constructor` or `__proto__` is a field
  // (as JSON.parse makes it on Convex), never the prototype.
  const set = (name: string, value: unknown) =>
    Object.defineProperty(identity, name, { value, enumerable: true, writable: true, configurable: true });
  set("tokenIdentifier", `${claims.iss}|${claims.sub}`);
  set("issuer", claims.iss);
  set("subject", claims.sub);
  const custom: Array<[string, unknown]> = [];
  if (provider === "oidc") {
    const standard = new Map<string, unknown>();
    for (const [claim, value] of Object.entries(claims)) {
      if (ID_TOKEN_FIELDS.has(claim) || VOLATILE.has(claim) || claim === "sub") continue;
      if (!readStandard(claim, value, standard)) custom.push([claim, sortedKeys(value)]);
    }
    for (const [claim, , attribute] of STANDARD) {
      const value = attribute === null ? undefined : oidcAttribute(claim, standard.get(claim));
      if (value !== undefined) set(attribute!, value);
    }
  } else {
    for (const [claim, value] of Object.entries(claims)) {
      // `fva` is removed after flattening: a nested `fva` object's keys stay (from_custom_jwt).
      const flattens = value !== null && typeof value === "object" && !Array.isArray(value);
      if (!REGISTERED.has(claim) && (claim !== "fva" || flattens)) flattenClaim(claim, value, custom);
    }
  }
  custom.sort(([a], [b]) => byCodePoint(a, b));
  for (const [name, value] of custom) if (value !== undefined) set(name, value);
  return identity as unknown as UserIdentity;
}

/**
 * Reads `claim` if openidconnect's StandardClaims does (src/claims.rs: the key
 * split at its first `#` into name and language tag, an empty tag being none)
 * and says so; false for a custom claim. Throws AuthError where openidconnect
 * fails: a tag on a claim that takes none, the same claim twice, a wrong type.
 */
function readStandard(claim: string, value: unknown, standard: Map<string, unknown>): boolean {
  const refuse = () => new AuthError(NOT_OIDC);
  const hash = claim.indexOf("#");
  const name = hash < 0 ? claim : claim.slice(0, hash);
  const tag = hash < 0 ? "" : claim.slice(hash + 1);
  // `sub#x` takes no tag; `sub#` is `sub` a second time.
  if (name === "sub") throw refuse();
  const kind = STANDARD_KIND.get(name);
  if (kind === undefined) return false;
  if (tag !== "" && kind !== "localized") throw refuse();
  if (!typeOk(kind, value)) throw refuse();
  if (tag !== "") return true;
  if (standard.has(name)) throw refuse();
  standard.set(name, value);
  return true;
}

/** Convex's answer when openidconnect cannot read the token (crates/authentication/src/lib.rs). */
const NOT_OIDC = "Could not parse as OIDC ID token. Token might not be an OIDC-compliant JWT.";

const ADDRESS_FIELDS = ["formatted", "street_address", "locality", "region", "postal_code", "country"];
function typeOk(kind: Kind, v: unknown): boolean {
  if (v === null) return true;
  switch (kind) {
    case "localized":
    case "string":
      return typeof v === "string";
    case "boolean":
      return typeof v === "boolean";
    case "address":
      return typeof v === "object" && !Array.isArray(v) && ADDRESS_FIELDS.every((f) => !Object.hasOwn(v, f) || (v as Record<string, unknown>)[f] === null || typeof (v as Record<string, unknown>)[f] === "string");
    case "time":
      return timestampSeconds(v) !== null;
  }
}

/**
 * Rust's string order (UTF-8 bytes, i.e. code points), which a BTreeMap keeps:
 * UTF-16 units differ from it only where a surrogate (U+D800–DFFF, standing for
 * a code point above U+FFFF) meets a unit in U+E000–FFFF.
 */
export function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const rank = (u: number) => (u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u);
      return rank(x) - rank(y);
    }
  }
  return a.length - b.length;
}

/**
 * An OIDC custom claim as openidconnect hands it on: read into serde_value,
 * whose maps are BTreeMaps, so object keys come out sorted at every depth
 * (get-convex/openidconnect-rs src/helpers.rs `FilteredFlatten`). Depth is
 * bounded by JSON_DEPTH_MAX.
 */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(byCodePoint)) {
    const inner = sortedKeys((value as Record<string, unknown>)[key]);
    Object.defineProperty(out, key, { value: inner, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A nested object's fields as `outer.inner` keys, at every depth; anything else (arrays too) as it is. */
function flattenClaim(name: string, value: unknown, out: Array<[string, unknown]>) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flattenClaim(`${name}.${key}`, inner, out);
  } else {
    out.push([name, value]);
  }
}

/** An OIDC standard claim (already type-checked) as its typed field. */
function oidcAttribute(claim: string, value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (claim === "address") {
    const formatted = (value as { formatted?: unknown }).formatted;
    return typeof formatted === "string" ? formatted : undefined;
  }
  if (claim === "updated_at") return rfc3339(timestampSeconds(value)!);
  return value;
}

// chrono's NaiveDate range (MIN_YEAR = i32::MIN >> 13, MAX_YEAR = i32::MAX >> 13).
const YEAR_MIN = -262144;
const YEAR_MAX = 262143;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * openidconnect's `Timestamp::to_utc` (src/helpers.rs): a number of seconds
 * (whole seconds floored, nanoseconds floored from the fraction) or, with the
 * `accept-rfc3339-timestamps` feature Convex turns on, an RFC 3339 string.
 * Null when chrono could not hold it (the token is then refused).
 */
function timestampSeconds(v: unknown): { secs: number; nanos: number } | null {
  let secs: number;
  let nanos: number;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return null;
    secs = Math.floor(v);
    nanos = Number.isInteger(v) ? 0 : Math.floor((v - secs) * 1_000_000_000);
  } else if (typeof v === "string") {
    const m = RFC3339.exec(v);
    if (!m) return null;
    const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    const date = new Date(0);
    date.setUTCFullYear(y, mo - 1, d);
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
    if (h > 23 || mi > 59 || s > 59) return null;
    const offset = m[8] ? 0 : (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11]) * 60);
    if (Number(m[10] ?? 0) > 23 || Number(m[11] ?? 0) > 59) return null;
    secs = date.getTime() / 1000 + h * 3600 + mi * 60 + s - offset;
    nanos = Number(((m[7] ?? "") + "000000000").slice(0, 9));
  } else {
    return null;
  }
  const year = new Date(secs * 1000).getUTCFullYear();
  return Number.isFinite(year) && year >= YEAR_MIN && year <= YEAR_MAX ? { secs, nanos } : null;
}

/** chrono's `to_rfc3339()` of a UTC time (SecondsFormat::AutoSi: 0, 3, 6 or 9 fraction digits; a signed year outside 0..=9999). */
function rfc3339({ secs, nanos }: { secs: number; nanos: number }): string {
  const date = new Date(secs * 1000);
  const y = date.getUTCFullYear();
  const year = y >= 0 && y <= 9999 ? String(y).padStart(4, "0") : `${y < 0 ? "-" : "+"}${String(Math.abs(y)).padStart(4, "0")}`;
  const two = (n: number) => String(n).padStart(2, "0");
  const fraction =
    nanos === 0
      ? ""
      : nanos % 1_000_000 === 0
        ? `.${String(nanos / 1_000_000).padStart(3, "0")}`
        : nanos % 1_000 === 0
          ? `.${String(nanos / 1_000).padStart(6, "0")}`
          : `.${String(nanos).padStart(9, "0")}`;
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${year}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}T${time}${fraction}+00:00`;
}
