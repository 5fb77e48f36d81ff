/**
 * keyhole's one token verifier, for code that holds a token's text: leak
 * reports, introspection, and failed authentications (to count failures per
 * token and tell the owner). Convex functions never verify tokens
 * themselves: Convex does, through the customJwt provider in auth.config.ts.
 *
 * It accepts only a keyhole token (TOKEN_PREFIX, ≤ 4 KB) spelled canonically
 * (every segment canonical base64url, so no second spelling of a token
 * verifies), signed ES256 by one of `keys` (picked by the header's `kid`), for
 * our issuer and audience, with a consistent `sub`/`jti`/`kind`. A token whose
 * signature is ours but whose `exp` has passed is still recognized, with
 * `expired: true`. Anything else is null, for whatever reason (never says which).
 */
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import { isCanonicalBase64url, sha256Hex } from "../crypto";
import {
  KEYHOLE_AUDIENCE,
  keyholeIssuer,
  parseKeyholeSubject,
  type PublicJwk,
  TOKEN_PREFIX,
  type TokenKind,
} from "../keys";

export type VerifiedToken = {
  kind: TokenKind;
  id: string;
  expiresAt: number;
  /** Signature ours, `exp` passed. */
  expired: boolean;
  /** The key id (`kid`) whose key verified the signature. */
  keyId: string;
  /** SHA-256 of the text, to match the record (never the text itself). */
  tokenHash: string;
};

/** An ES256 signature is 64 bytes: 86 base64url characters. */
const SIGNATURE_CHARS = 86;

function claimsOf(payload: JWTPayload): { kind: TokenKind; id: string; expiresAt: number } | null {
  const sub = parseKeyholeSubject(String(payload.sub ?? ""));
  if (!sub || payload.jti !== sub.id || payload.kind !== sub.kind || typeof payload.exp !== "number") return null;
  return { ...sub, expiresAt: payload.exp * 1000 };
}

/** Whether `token` is shaped like a keyhole token, spelled the one canonical way. */
export function isCanonicalKeyholeToken(token: string): boolean {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 4096) return false;
  const parts = token.split(".");
  return parts.length === 3 && parts[2].length === SIGNATURE_CHARS && parts.every(isCanonicalBase64url);
}

/** Null unless `token` is a keyhole token whose signature one of `keys` verifies. */
export async function verifyKeyholeToken(token: string, keys: PublicJwk[]): Promise<VerifiedToken | null> {
  if (!isCanonicalKeyholeToken(token)) return null;
  let payload: JWTPayload;
  let expired = false;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet({ keys }), {
      algorithms: ["ES256"],
      issuer: keyholeIssuer(),
      audience: KEYHOLE_AUDIENCE,
      requiredClaims: ["sub", "exp", "jti"],
    }));
  } catch (e) {
    // jose checks the signature, then issuer and audience, then `exp`:
    // JWTExpired therefore means "ours, but past its expiry".
    if (!(e instanceof errors.JWTExpired)) return null;
    payload = e.payload;
    expired = true;
  }
  const claims = claimsOf(payload);
  if (claims === null) return null;
  const keyId = String(decodeProtectedHeader(token).kid);
  return { ...claims, expired, keyId, tokenHash: await sha256Hex(token) };
}
