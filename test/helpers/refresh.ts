// refreshSession as the seed calls it (a mutation), for tests that want a
// thrown ConvexError on refusal: the function returns refusals as values
// (`{ok: false, code, message}`) so that a replay's revocation commits.
import type { FunctionArgs, FunctionReturnType } from "convex/server";
import { ConvexError } from "convex/values";
import { api } from "../../convex/_generated/api";

type Ref = typeof api.auth.refreshSession;
type MutationClient = { mutation(ref: Ref, args: FunctionArgs<Ref>): Promise<FunctionReturnType<Ref>> };

export type Refreshed = Extract<FunctionReturnType<Ref>, { ok: true }>;

/** The refreshed credential(s), or a thrown ConvexError({code, message}) for a refusal. */
export async function refreshOrThrow(client: MutationClient, args: FunctionArgs<Ref>): Promise<Refreshed> {
  const r = await client.mutation(api.auth.refreshSession, args);
  if (!r.ok) throw new ConvexError({ code: r.code, message: r.message });
  return r;
}

/** A rotation with the refresh token: the new pair (fails the test if no refresh token came back). */
export async function rotateWith(
  client: MutationClient,
  refreshToken: string,
  ttl?: number,
): Promise<Refreshed & { refreshToken: string }> {
  const r = await refreshOrThrow(client, { refreshToken, ...(ttl === undefined ? {} : { ttl }) });
  if (r.refreshToken === undefined) throw new Error("a rotation with the refresh token returned no refresh token");
  return { ...r, refreshToken: r.refreshToken };
}
