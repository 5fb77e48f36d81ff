/**
 * E-mail addresses compare case-insensitively everywhere: sign-up, sign-in
 * and invitations all use the NFKC-normalized, lowercased, trimmed form
 * (`emailKey`); an address with invisible or control characters is refused.
 * (RFC 5321 lets the local part be case-sensitive; no mail system in use
 * treats it so, and two accounts that differ only in case are a hole.)
 */
import type { MutationCtx } from "../../_generated/server";
import { keyholeError } from "../errors";

const SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MAX_EMAIL = 320;

/**
 * Invisible or control characters (zero-width space, soft hyphen, bidi
 * overrides, …): an address with one displays like another person's.
 */
const INVISIBLE = /[\p{C}]/u;

/** The comparison form of an address (NFKC: fullwidth letters are letters), or null. */
export function emailKey(email: string | null | undefined): string | null {
  if (email === undefined || email === null) return null;
  const key = email.normalize("NFKC").trim().toLowerCase();
  return key === "" ? null : key;
}

/** A caller-supplied address, validated and in comparison form. */
export function normalizeEmail(email: string): string {
  const key = emailKey(email);
  if (key === null || key.length > MAX_EMAIL || !SHAPE.test(key) || INVISIBLE.test(key)) {
    throw keyholeError("invalid_argument", "email must look like name@example.com (at most 320 characters)");
  }
  return key;
}

/**
 * One page of the migration for accounts created before addresses were
 * lowercased: a password account whose id (its e-mail) has capitals gets the
 * lowercased id, and its user the lowercased e-mail — unless another account
 * already has that id (two accounts differing only in case), which is left
 * alone and counted, for an operator to resolve.
 */
export async function lowercaseAccountsPage(
  ctx: MutationCtx,
  cursor: string | null,
): Promise<{ changed: number; collisions: string[]; cursor: string | null }> {
  const page = await ctx.db
    .query("authAccounts")
    .withIndex("providerAndAccountId", (q) => q.eq("provider", "password"))
    .paginate({ numItems: 100, cursor });
  let changed = 0;
  const collisions: string[] = [];
  for (const a of page.page) {
    const key = emailKey(a.providerAccountId);
    if (key === null || key === a.providerAccountId) continue;
    const taken = await ctx.db
      .query("authAccounts")
      .withIndex("providerAndAccountId", (q) => q.eq("provider", "password").eq("providerAccountId", key))
      .first();
    if (taken !== null) {
      collisions.push(a._id);
      continue;
    }
    await ctx.db.patch("authAccounts", a._id, { providerAccountId: key });
    const user = await ctx.db.get("users", a.userId);
    if (user !== null && user.email !== undefined && emailKey(user.email) === key) await ctx.db.patch("users", user._id, { email: key });
    changed++;
  }
  return { changed, collisions, cursor: page.isDone ? null : page.continueCursor };
}
