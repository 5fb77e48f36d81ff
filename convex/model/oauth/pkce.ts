/** PKCE (RFC 7636), S256 only: `plain` is never offered. */
import { base64url, randomToken } from "../crypto";

/** 32 random bytes, base64url: 43 characters of the unreserved set. */
export function newVerifier(): string {
  return randomToken(32);
}

/** BASE64URL(SHA-256(ASCII(verifier))). */
export async function s256Challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
