// Shared setup of the agent-session function tests (convex-test): a signed-in
// person, row and audit readers, and refreshSession as a client calls it.
import { ConvexError } from "convex/values";
import { expect } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { makeTest, signIn, type TestConvex } from "../helpers/convex";

export const INVALID = { valid: false, agentId: null, expiresAt: null, metadata: null };

export async function setup() {
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  return { t, alice };
}

export async function row(t: TestConvex, id: Id<"agentSessions">) {
  return await t.run(async (ctx) => await ctx.db.get("agentSessions", id));
}

export async function audit(t: TestConvex) {
  return await t.run(async (ctx) => await ctx.db.query("auditEvents").collect());
}

export type RefreshArgs = { refreshToken?: string; token?: string; ttl?: number };

/** refreshSession as a client calls it; a refusal (returned, not thrown) becomes a ConvexError for errorOf. */
export async function refresh(t: TestConvex, args: RefreshArgs) {
  const r = await t.mutation(api.auth.refreshSession, args);
  if (!r.ok) throw new ConvexError({ code: r.code, message: r.message });
  return r;
}

/** A rotation with the refresh token: always a new pair. */
export async function rotate(t: TestConvex, refreshToken: string, ttl?: number) {
  const r = await refresh(t, { refreshToken, ...(ttl === undefined ? {} : { ttl }) });
  expect(r.refreshToken).toMatch(/^khr_/);
  return { ...r, refreshToken: r.refreshToken! };
}
