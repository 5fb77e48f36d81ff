/**
 * Checking a presented keyhole token ourselves, in an HTTP action, for the
 * cases where no Convex identity vouches for it: leak reports, introspection,
 * and failed authentications (to count failures per token and tell the owner).
 *
 * Unlike verifyKeyholeToken this also recognizes a token whose signature is
 * ours but whose `exp` has passed (reported as `expired: true`).
 */
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { sha256Hex } from "../crypto";
import {
  KEYHOLE_AUDIENCE,
  keyholeIssuer,
  parseKeyholeSubject,
  type PublicJwk,
  TOKEN_PREFIX,
  type TokenKind,
} from "../keys";

export type InspectedToken = {
  kind: TokenKind;
  id: string;
  expiresAt: number;
  /** Signature ours, `exp` passed. */
  expired: boolean;
  /** SHA-256 of the text, to match the record (never the text itself). */
  tokenHash: string;
};

function claimsOf(payload: JWTPayload): { kind: TokenKind; id: string; expiresAt: number } | null {
  const sub = parseKeyholeSubject(String(payload.sub ?? ""));
  if (!sub || payload.jti !== sub.id || payload.kind !== sub.kind || typeof payload.exp !== "number") return null;
  return { ...sub, expiresAt: payload.exp * 1000 };
}

/** Null unless `token` is a keyhole token whose signature one of `keys` verifies. */
export async function inspectKeyholeToken(token: string, keys: PublicJwk[]): Promise<InspectedToken | null> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 4096) return null;
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
  return { ...claims, expired, tokenHash: await sha256Hex(token) };
}
