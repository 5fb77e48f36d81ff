/**
 * Which signed keyhole tokens to trust, beyond "Convex verified the
 * signature against our JWKS".
 *
 * 1. **Binding.** Convex hands a function the claims of a token it verified
 *    with *some* key of the JWKS, and the JWKS keeps a retired key while old
 *    tokens it signed live (up to a year). Whoever holds a retired private key
 *    could sign a token for any record — one created after the rotation
 *    included. So every token carries a random secret claim (`bnd`) and its
 *    record keeps the claim's SHA-256 (`bindingHash`) and the id of the key
 *    that signed it (`keyId`): only the one token signed for a record
 *    matches, whatever key a forger holds. Records from before binding
 *    existed have no hash and are checked as before.
 *
 * 2. **Emergency retirement.** `keys:revokeKey` marks a key compromised: it
 *    leaves the JWKS at once, and every record whose `keyId` is that key is
 *    refused on its next request (revoked, even while the batches that mark
 *    its PATs revoked and end its sessions are still running).
 */
import type { UserIdentity } from "convex/server";
import type { QueryCtx } from "../_generated/server";
import { constantTimeEqual, sha256Hex } from "./crypto";
import { keyholeError } from "./errors";
import { BINDING_CLAIM, currentSigningKey } from "./keys";

type ReadCtx = Pick<QueryCtx, "db">;
type Bound = { keyId?: string; bindingHash?: string };

/** The retired-keys row for `keyId`, if any. */
export async function retiredKeyRow(ctx: ReadCtx, keyId: string) {
  return await ctx.db
    .query("retiredSigningKeys")
    .withIndex("by_key", (q) => q.eq("keyId", keyId))
    .first();
}

/**
 * Throws unless `identity` (a verified keyhole token) is the token signed for
 * `record`, by a key not retired for compromise. A missing or wrong binding
 * reads like an unknown credential (`unauthenticated`), before anything about
 * the record (revoked, expired) is told.
 */
export async function checkTokenTrust(ctx: ReadCtx, identity: UserIdentity, record: Bound): Promise<void> {
  if (record.bindingHash !== undefined) {
    const claim = identity[BINDING_CLAIM];
    const ok =
      typeof claim === "string" && claim.length <= 64 && constantTimeEqual(await sha256Hex(claim), record.bindingHash);
    if (!ok) throw keyholeError("unauthenticated", "credential not recognized");
  }
  // Tokens of the current key need no read: it cannot be retired while it signs.
  if (record.keyId === undefined || record.keyId === "" || record.keyId === (await currentSigningKey()).kid) return;
  const row = await retiredKeyRow(ctx, record.keyId);
  if (row?.compromisedAt !== undefined) {
    throw keyholeError(
      "revoked",
      "the key that signed this token has been retired after a compromise: create a new token",
    );
  }
}
