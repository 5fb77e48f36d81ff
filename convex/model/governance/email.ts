/**
 * E-mail addresses compare case-insensitively everywhere: sign-up, sign-in
 * and invitations all use the lowercased, trimmed form (`emailKey`).
 * (RFC 5321 lets the local part be case-sensitive; no mail system in use
 * treats it so, and two accounts that differ only in case are a hole.)
 */
import { keyholeError } from "../errors";

const SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MAX_EMAIL = 320;

/** The comparison form of an address, or null. */
export function emailKey(email: string | null | undefined): string | null {
  if (email === undefined || email === null) return null;
  const key = email.trim().toLowerCase();
  return key === "" ? null : key;
}

/** A caller-supplied address, validated and in comparison form. */
export function normalizeEmail(email: string): string {
  const key = emailKey(email);
  if (key === null || key.length > MAX_EMAIL || !SHAPE.test(key)) {
    throw keyholeError("invalid_argument", "email must look like name@example.com (at most 320 characters)");
  }
  return key;
}
