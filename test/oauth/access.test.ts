// Every public function of the OAuth area refuses unauthenticated callers.
// The table is checked against the module's exports, so a new public
// function without a row fails here.
import { expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import * as authModule from "../../convex/auth";
import * as oauthModule from "../../convex/oauth";
import { makeTest } from "../helpers/convex";
import { APP_REDIRECT, mockProviderForFile } from "./helpers";

mockProviderForFile();

const ROWS = {
  "auth:initiateOAuth": (t: any) => t.mutation(api.auth.initiateOAuth, { provider: "oauth2", scopes: [], redirectUri: APP_REDIRECT }),
  "auth:completeOAuth": (t: any) => t.mutation(api.auth.completeOAuth, { provider: "oauth2", code: "c", state: "s" }),
  "auth:listOAuthConnections": (t: any) => t.query(api.auth.listOAuthConnections, {}),
  "auth:revokeOAuth": (t: any) => t.action(api.auth.revokeOAuth, { provider: "oauth2" }),
  "oauth:getConnectionToken": (t: any) => t.action(api.oauth.getConnectionToken, { provider: "oauth2" }),
  "oauth:listProviders": (t: any) => t.query(api.oauth.listProviders, {}),
} as const;

const OAUTH_SECTION = ["initiateOAuth", "completeOAuth", "listOAuthConnections", "revokeOAuth"];

test("the table covers every public function of convex/oauth.ts and the auth oauth section", () => {
  const publicOf = (prefix: string, mod: Record<string, unknown>) =>
    Object.entries(mod)
      .filter(([, f]) => typeof f === "function" && (f as { isPublic?: boolean }).isPublic === true)
      .map(([n]) => `${prefix}:${n}`);
  for (const n of OAUTH_SECTION) expect((authModule as any)[n].isPublic).toBe(true);
  expect(Object.keys(ROWS).sort()).toEqual([...publicOf("oauth", oauthModule), ...OAUTH_SECTION.map((n) => `auth:${n}`)].sort());
});

test.each(Object.keys(ROWS))("%s refuses an unauthenticated caller", async (name) => {
  const t = await makeTest();
  const err = await (ROWS as Record<string, (t: unknown) => Promise<unknown>>)[name](t).then(
    () => null,
    (e: { data?: { code?: string } }) => e,
  );
  expect((err as { data?: { code?: string } } | null)?.data?.code).toBe("unauthenticated");
  // Nothing was written on the way.
  expect(await t.run(async (ctx) => (await ctx.db.query("oauthStates").collect()).length)).toBe(0);
});
