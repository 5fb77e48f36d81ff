/**
 * A token's short identifier: the last HINT_LENGTH characters of its text,
 * like GitHub's `token_last_eight` or Stripe's "…4242". Shown in lists next
 * to the name, so a token found somewhere it shouldn't be can be matched to
 * its row by eye. It is not a secret: the characters are the tail of the
 * ES256 signature (36 of its 512 bits), which neither reveals the signing key
 * nor makes the token guessable. The full text is never stored.
 */
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";

export const HINT_LENGTH = 6;

export function tokenHint(token: string): string {
  return token.slice(-HINT_LENGTH);
}

/** Stores the identifier of a token just created (called with the text the caller receives once). */
export async function rememberTokenHint(ctx: MutationCtx, tokenId: Id<"apiTokens">, token: string): Promise<void> {
  await ctx.db.patch("apiTokens", tokenId, { hint: tokenHint(token) });
}
