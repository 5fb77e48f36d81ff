// convex-test harness for function-level tests: the app's schema and modules,
// plus helpers that sign people in and present tokens the way the real
// backend would (identity issuer/subject as auth.config.ts defines them).
import { convexTest } from "convex-test";
import type { Id } from "../../convex/_generated/dataModel";
import schema from "../../convex/schema";
import { setupTestEnv, TEST_ISSUER, TEST_SITE_URL } from "./env";

export const modules = import.meta.glob("../../convex/**/*.*s");

export async function makeTest() {
  await setupTestEnv();
  return convexTest(schema, modules);
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

/** An accessor presenting a keyhole token (PAT or agent session) by its record id. */
export function asToken(t: TestConvex, kind: "pat" | "agent", id: string) {
  return t.withIdentity({ issuer: TEST_ISSUER, subject: `${kind}:${id}` });
}
