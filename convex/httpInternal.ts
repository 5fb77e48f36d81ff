/**
 * Internal functions the HTTP API and the MCP endpoint (convex/model/http/)
 * call from their HTTP actions. They run as the request's identity (Convex
 * passes it to ctx.runQuery/runMutation), so getPrincipal sees the caller.
 * Logic lives in convex/model/http/authn.ts.
 */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import * as Authn from "./model/http/authn";
import * as LeakReport from "./model/http/leakReport";
import { vPermission } from "./validators";

/**
 * Who is calling, last use recorded; or a counted, audited failure. With
 * `permissions`: which of them it may use somewhere; with `mcp`: the orgs it
 * reaches whose token policy refuses MCP clients.
 */
export const authenticate = internalMutation({
  args: { permissions: v.optional(v.array(vPermission)), resource: v.optional(v.string()), mcp: v.optional(Authn.vMcpReach) },
  returns: Authn.vAuthOutcome,
  handler: async (ctx, args) => await Authn.authenticateRequest(ctx, args),
});

/**
 * The same check, read-only: the answer when nothing is due to be written,
 * else `writeDue` (the caller then runs `authenticate`). No access check of
 * its own beyond the caller's identity: internal, called only by guard.ts.
 */
export const authenticateRead = internalQuery({
  args: { permissions: v.optional(v.array(vPermission)), resource: v.optional(v.string()), mcp: v.optional(Authn.vMcpReach) },
  returns: Authn.vReadOutcome,
  handler: async (ctx, args) => await Authn.authenticateRead(ctx, args),
});

/** A request whose bearer token no identity vouched for (forged, malformed, expired). */
export const recordAuthFailure = internalMutation({
  args: { presented: v.union(Authn.vPresented, v.null()) },
  returns: v.number(),
  handler: async (ctx, args) => await Authn.recordFailure(ctx, args.presented),
});

/** RFC 7662 introspection of a token whose signature the caller verified. */
export const introspect = internalQuery({
  args: { kind: Authn.vTokenKind, id: v.string(), tokenHash: v.string() },
  returns: Authn.vIntrospection,
  handler: async (ctx, args) => await Authn.introspect(ctx, args),
});

/** A leaked-token report: rate-limited per IP; revokes when the token is ours. Returns ms to wait. */
export const reportLeak = internalMutation({
  args: {
    token: v.union(v.object({ kind: Authn.vTokenKind, id: v.string(), tokenHash: v.string() }), v.null()),
  },
  returns: v.number(),
  handler: async (ctx, args) => await LeakReport.reportLeak(ctx, args.token),
});
