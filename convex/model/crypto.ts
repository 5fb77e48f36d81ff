// Small Web Crypto helpers that run in the Convex runtime (no Node built-ins).
import { sha256 } from "@noble/hashes/sha2.js";

const encoder = new TextEncoder();

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const SPARE_BITS_CLEAR: Record<number, RegExp> = {
  2: /[AQgw]$/, // the last char carries 2 bits: 4 spare
  3: /[AEIMQUYcgkosw048]$/, // the last char carries 4 bits: 2 spare
};

/**
 * A base64url segment with no padding and no spare bits set: exactly one
 * spelling per byte string. Decoders (jose's included) ignore the spare bits
 * of the last character, which would give a JWT several valid spellings.
 */
export function isCanonicalBase64url(segment: string): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return false;
  const rest = segment.length % 4;
  return rest === 0 || (rest !== 1 && SPARE_BITS_CLEAR[rest].test(segment));
}

/**
 * SHA-256 of a string, hex. Used to store and look up secrets we never keep.
 * @noble/hashes (audited, pure JS), not crypto.subtle.digest: every input
 * here is short (tokens, codes, claims), where Web Crypto's asynchronous job
 * costs several times the hash itself — and the binding check hashes once
 * per authenticated request (keyTrust.ts). Same digest either way.
 */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(sha256(encoder.encode(text)));
}

/** `bytes` of CSPRNG output, base64url: refresh tokens, OAuth state, PKCE. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
