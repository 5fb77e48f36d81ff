/**
 * The rules for a personal access token's fields, and its status: the backend
 * enforces them (convex/model/tokens.ts), the dashboard and the CLI check and
 * show them with the same values.
 */

/** A token name: unique among one person's active tokens. */
export const TOKEN_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_DESCRIPTION = 256;
export const DAY_S = 24 * 3600;
export const MIN_EXPIRES_IN_S = 60;
export const MAX_EXPIRES_IN_S = 365 * DAY_S;
export const DEFAULT_EXPIRES_IN_S = 30 * DAY_S;

export function isTokenName(name: string): boolean {
  return TOKEN_NAME.test(name);
}

export const TOKEN_STATUSES = ["active", "expired", "revoked"] as const;
export type TokenStatus = (typeof TOKEN_STATUSES)[number];

/** A PAT record's status (also used for listing tokens). */
export function tokenStatus(t: { revokedAt?: number; expiresAt: number }, now: number): TokenStatus {
  if (t.revokedAt !== undefined) return "revoked";
  if (t.expiresAt <= now) return "expired";
  return "active";
}
