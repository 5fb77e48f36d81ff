// convex-test harness for function-level tests: the app's schema and modules,
// plus helpers that sign people in and present tokens the way the real
// backend would (identity issuer/subject as auth.config.ts defines them).
import { convexTest } from "convex-test";
import { decodeJwt } from "jose";
import type { UserIdentity } from "convex/server";
import type { Id } from "../../convex/_generated/dataModel";
import schema from "../../convex/schema";
import { toIdentity } from "../../local/identity";
import { setupTestEnv, TEST_ISSUER, TEST_SITE_URL } from "./env";

export const modules = import.meta.glob("../../convex/**/*.*s");

/**
 * Token texts the functions returned (createApiToken, createSession, …), by
 * record id, per test instance: asToken presents the real token's claims,
 * as Convex would after verifying it (so the record's binding matches).
 */
const issuedTokens = new WeakMap<object, Map<string, string>>();

function remember(tokens: Map<string, string>, result: unknown): void {
  if (result === null || typeof result !== "object") return;
  const r = result as { token?: unknown; tokenId?: unknown; sessionId?: unknown };
  const id = r.tokenId ?? r.sessionId;
  if (typeof r.token === "string" && typeof id === "string") tokens.set(id, r.token);
}

/** Wraps an accessor's mutation/action so the tokens they return are remembered. */
function recording<A extends { mutation: unknown; action: unknown }>(accessor: A, tokens: Map<string, string>): A {
  for (const kind of ["mutation", "action"] as const) {
    const call = (accessor[kind] as (...a: unknown[]) => Promise<unknown>).bind(accessor);
    (accessor as Record<string, unknown>)[kind] = async (...a: unknown[]) => {
      const result = await call(...a);
      remember(tokens, result);
      return result;
    };
  }
  return accessor;
}

export async function makeTest() {
  await setupTestEnv();
  const t = convexTest(schema, modules);
  const tokens = new Map<string, string>();
  issuedTokens.set(t, tokens);
  recording(t, tokens);
  const withIdentity = t.withIdentity.bind(t);
  t.withIdentity = (identity: Partial<UserIdentity>) => recording(withIdentity(identity), tokens);
  return t;
}

export type TestConvex = Awaited<ReturnType<typeof makeTest>>;

/** Creates a user with a live @convex-dev/auth session; returns an accessor signed in as them. */
export async function signIn(t: TestConvex, email: string) {
  const { userId, sessionId } = await t.run(async (ctx) => {
    const userId = await ctx.db.insert("users", { email });
    const sessionId = await ctx.db.insert("authSessions", {
      userId,
      expirationTime: Date.now() + 30 * 24 * 3600_000,
    });
    return { userId, sessionId };
  });
  return { userId, sessionId, as: asUser(t, userId, sessionId) };
}

export function asUser(t: TestConvex, userId: Id<"users">, sessionId: Id<"authSessions">) {
  return t.withIdentity({ issuer: TEST_SITE_URL, subject: `${userId}|${sessionId}` });
}

/** An accessor presenting a keyhole token's text: the identity Convex derives from its claims. */
export function asBearer(t: TestConvex, token: string) {
  return t.withIdentity(toIdentity(decodeJwt(token)));
}

/**
 * An accessor presenting a keyhole token (PAT or agent session) by its record
 * id: the real token when a function returned it in this test, else (rows a
 * test inserted itself) just our issuer and the subject.
 */
export function asToken(t: TestConvex, kind: "pat" | "agent", id: string) {
  const token = issuedTokens.get(t)?.get(id);
  if (token !== undefined) return asBearer(t, token);
  return t.withIdentity({ issuer: TEST_ISSUER, subject: `${kind}:${id}` });
}
