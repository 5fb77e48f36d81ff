/**
 * Authenticating one HTTP request (API or MCP), in the HTTP action.
 *
 * Convex hands an HTTP action the identity of a valid `Authorization: Bearer
 * <jwt>` and runs ctx.runQuery/runMutation as that identity. So:
 * no header → 401 "missing"; a header but no identity (forged, malformed,
 * expired JWT) → we check the token ourselves only to count the failure
 * against its id and tell its owner, then 401; an identity → the internal
 * `authenticate` mutation re-checks the record (revoked, expired, unknown →
 * the same 401) and records last use. Clients that keep failing get 429.
 *
 * Query first: a credential that recorded its use less than a minute ago has
 * nothing to write, so its requests run the read-only `authenticateRead`
 * query — the same record checks, no commit. Anything the query cannot
 * settle (a use record due, a failure to count and audit) goes to the
 * mutation, which decides afresh. Which of the two to run first is guessed
 * from `quietUntil` below; the guess never decides an answer.
 */
import { internal } from "../../_generated/api";
import type { ActionCtx } from "../../_generated/server";
import type { PublicJwk } from "../keys";
import type { Permission } from "../permissions";
import type { AuthOutcome, McpReach, OrgRefusal, Who } from "./authn";
import { bearerOf, invalidCredential, missingCredential, tooManyFailures } from "./common";
import { isCanonicalKeyholeToken, verifyKeyholeToken, type VerifiedToken } from "./verify";

export type Authenticated = { who: Who; permissions?: Permission[]; mcpRefusals?: OrgRefusal[]; token: string };

/** The keys keyhole tokens verify against (current + retired still in use). */
export async function loadKeys(ctx: Pick<ActionCtx, "runQuery">): Promise<PublicJwk[]> {
  return (await ctx.runQuery(internal.keys.verificationKeys, {})) as PublicJwk[];
}

/** Verifies a keyhole token's signature (expired still recognized); null when it is not ours. */
export async function inspect(ctx: Pick<ActionCtx, "runQuery">, token: string): Promise<VerifiedToken | null> {
  if (!isCanonicalKeyholeToken(token)) return null; // not ours: no key lookup
  return await verifyKeyholeToken(token, await loadKeys(ctx));
}

/**
 * The request's identity, or null when Convex rejected its token: on Convex an
 * HTTP action with a bearer token that Convex refuses still runs, and
 * ctx.auth.getUserIdentity() throws (get-convex/convex-backend:
 * crates/local_backend/src/http_actions.rs, crates/isolate/src/environment/
 * action/task_executor.rs). Such a request is an invalid credential (401).
 */
async function identityOrNull(ctx: ActionCtx) {
  try {
    return await ctx.auth.getUserIdentity();
  } catch {
    return null;
  }
}

/**
 * Until when each credential seen lately has no use record due (by its
 * tokenIdentifier, set only from a successful check's answer): before that,
 * the query runs first; after it, or for a credential not seen yet, the
 * mutation runs at once instead of a query that would only answer
 * "write due". Module state may or may not outlive a request on Convex;
 * either way every request is checked against the records. Bounded: the
 * oldest entry goes first.
 */
const quietUntil = new Map<string, number>();
const QUIET_HINTS_MAX = 10_000;

function rememberQuiet(key: string, dueAt: number | undefined) {
  quietUntil.delete(key);
  if (quietUntil.size >= QUIET_HINTS_MAX) quietUntil.delete(quietUntil.keys().next().value!);
  quietUntil.set(key, dueAt ?? Number.POSITIVE_INFINITY);
}

/**
 * Authenticates the request or throws an HttpError (401 / 429). `challenge`
 * adds parameters to the WWW-Authenticate header (resource_metadata, scope).
 * `permissions`: also answer which of them the credential may use somewhere.
 * `resource`: the RFC 8707 indicator being accessed; an OAuth access token
 * issued for another resource is refused like an invalid one.
 * `mcp`: the orgs an MCP request reaches, to learn which refuse MCP clients.
 */
export async function authenticate(
  ctx: ActionCtx,
  req: Request,
  opts: { challenge?: Record<string, string>; permissions?: Permission[]; resource?: string; mcp?: McpReach } = {},
): Promise<Authenticated> {
  const challenge = opts.challenge ?? {};
  const bearer = bearerOf(req);
  if (!bearer.present) throw missingCredential(challenge);
  const identity = bearer.token === null ? null : await identityOrNull(ctx);
  if (identity === null || bearer.token === null) {
    const seen = bearer.token === null ? null : await inspect(ctx, bearer.token);
    const wait: number = await ctx.runMutation(internal.httpInternal.recordAuthFailure, {
      presented: seen && { kind: seen.kind, id: seen.id, expired: seen.expired },
    });
    throw wait > 0 ? tooManyFailures(wait) : invalidCredential(challenge);
  }
  const { permissions, resource, mcp } = opts;
  const key = identity.tokenIdentifier;
  if (Date.now() < (quietUntil.get(key) ?? 0)) {
    const read = await ctx.runQuery(internal.httpInternal.authenticateRead, { permissions, resource, mcp });
    if (read.ok) return authenticated(key, read, bearer.token);
  }
  const out = await ctx.runMutation(internal.httpInternal.authenticate, { permissions, resource, mcp });
  if (!out.ok) {
    quietUntil.delete(key);
    throw out.retryAfterMs > 0 ? tooManyFailures(out.retryAfterMs) : invalidCredential(challenge);
  }
  return authenticated(key, out, bearer.token);
}

function authenticated(key: string, out: AuthOutcome & { ok: true }, token: string): Authenticated {
  rememberQuiet(key, out.useRecordDueAt);
  return { who: out.who, permissions: out.permissions as Permission[] | undefined, mcpRefusals: out.mcpRefusals, token };
}
