/**
 * keyhole's own tokens (PATs and agent sessions): ES256 JWTs that Convex
 * verifies through the customJwt provider in auth.config.ts.
 *
 * Header: {"alg":"ES256","kid":"kh-<thumbprint>","typ":"JWT"}. Its first 24
 * bytes never change, so every keyhole token starts with TOKEN_PREFIX and a
 * secret scanner can match it; anyone can check a found token against the
 * public JWKS at `${CONVEX_SITE_URL}/keyhole/jwks.json`. The one verifier of
 * token text is in http/verify.ts.
 */
import { calculateJwkThumbprint, importJWK, SignJWT, type JWK } from "jose";
import { base64url, randomToken, sha256Hex } from "./crypto";
import { keyholeIssuer } from "./issuer";

export const KEYHOLE_AUDIENCE = "keyhole";
// Exactly 24 bytes (`{"alg":"ES256","kid":"kh`) → 32 base64url chars with no partial last
// character: a 25th byte would make the last char depend on the kid.
export const TOKEN_PREFIX = base64url(new TextEncoder().encode('{"alg":"ES256","kid":"kh'));

export type TokenKind = "pat" | "agent";

export { keyholeIssuer, siteUrl } from "./issuer";

export type PublicJwk = JWK & { kid: string };

type SigningKey = { kid: string; privateKey: CryptoKey; publicJwk: PublicJwk };
let cached: { raw: string; key: Promise<SigningKey> } | null = null;

/** A JWK's key id: "kh-" + 16 chars of its RFC 7638 thumbprint. */
export async function keyIdOf(jwk: JWK): Promise<string> {
  const thumb = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
  return `kh-${thumb.slice(0, 16)}`;
}

export function publicPart(jwk: JWK, kid: string): PublicJwk {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: "ES256", use: "sig" };
}

async function loadSigningKey(raw: string): Promise<SigningKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(raw) as JWK;
  } catch {
    throw new Error("KEYHOLE_SIGNING_KEY is not valid JSON (expected a private EC P-256 JWK)");
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d) {
    throw new Error("KEYHOLE_SIGNING_KEY must be a private EC P-256 JWK");
  }
  const kid = await keyIdOf(jwk);
  const privateKey = (await importJWK(jwk, "ES256")) as CryptoKey;
  return { kid, privateKey, publicJwk: publicPart(jwk, kid) };
}

/** The key that signs new tokens, from env KEYHOLE_SIGNING_KEY. */
export async function currentSigningKey(): Promise<SigningKey> {
  const raw = process.env.KEYHOLE_SIGNING_KEY;
  if (!raw) throw new Error("KEYHOLE_SIGNING_KEY is not set");
  if (cached === null || cached.raw !== raw) {
    const key = loadSigningKey(raw);
    cached = { raw, key };
    key.catch(() => {
      if (cached?.key === key) cached = null;
    });
  }
  return await cached.key;
}

/** The claim that binds a token record to the one token signed for it (keyTrust.ts). */
export const BINDING_CLAIM = "bnd";

/**
 * Signs a keyhole token for record `id`. Besides the public claims it carries
 * a fresh random `bnd` secret; the caller stores `bindingHash` (its SHA-256)
 * and `keyId` on the record, which binds the record to this token and so to
 * the key that signed it: a token forged with any key for this record —
 * lacking `bnd` — is refused (keyTrust.ts).
 */
export async function signKeyholeToken(opts: {
  kind: TokenKind;
  id: string;
  expiresAt: number;
  now: number;
}): Promise<{ token: string; keyId: string; bindingHash: string }> {
  const key = await currentSigningKey();
  const binding = randomToken(16);
  // Fixed claims only, none from a caller: on Convex a private claim named
  // `subject`/`issuer` replaces that identity field (test/tokens/claim-pins).
  const token = await new SignJWT({ kind: opts.kind, [BINDING_CLAIM]: binding })
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
    .setSubject(`${opts.kind}:${opts.id}`)
    .setJti(opts.id)
    .setIssuer(keyholeIssuer())
    .setAudience(KEYHOLE_AUDIENCE)
    .setIssuedAt(Math.floor(opts.now / 1000))
    .setExpirationTime(Math.floor(opts.expiresAt / 1000))
    .sign(key.privateKey);
  return { token, keyId: key.kid, bindingHash: await sha256Hex(binding) };
}

/** Splits a keyhole subject `pat:<id>` / `agent:<id>`. */
export function parseKeyholeSubject(subject: string): { kind: TokenKind; id: string } | null {
  const m = /^(pat|agent):([A-Za-z0-9_]{1,64})$/.exec(subject);
  return m ? { kind: m[1] as TokenKind, id: m[2] } : null;
}
