// The lowercase-accounts migration (convex-test): legacy password accounts
// with capitals in their e-mail get the lowercased id, so the lowercasing
// sign-in finds them again; two accounts differing only in case are left
// alone and reported.
import { expect, test } from "vitest";
import { internal } from "../../convex/_generated/api";
import { emailKey, normalizeEmail } from "../../convex/model/governance/email";
import { makeTest } from "../helpers/convex";

test("emailKey / normalizeEmail", () => {
  expect(emailKey("  Bob@Corp.TEST ")).toBe("bob@corp.test");
  expect(emailKey("")).toBeNull();
  expect(normalizeEmail("Bob@Corp.test")).toBe("bob@corp.test");
  expect(() => normalizeEmail("bob")).toThrow(/name@example.com/);
});

test("legacy accounts are lowercased; collisions are reported, not merged", async () => {
  const t = await makeTest();
  const ids = await t.run(async (ctx) => {
    const add = async (email: string) => {
      const userId = await ctx.db.insert("users", { email });
      const accountId = await ctx.db.insert("authAccounts", { userId, provider: "password", providerAccountId: email, secret: "x" });
      return { userId, accountId };
    };
    return { legacy: await add("Legacy@Example.com"), a: await add("dup@example.com"), b: await add("DUP@example.com"), fine: await add("ok@example.com") };
  });
  const r = await t.mutation(internal.governance.lowercaseAccountEmails, {});
  expect(r).toEqual({ changed: 1, collisions: [ids.b.accountId] });
  const after = await t.run(async (ctx) => ({
    legacy: await ctx.db.get("authAccounts", ids.legacy.accountId),
    legacyUser: await ctx.db.get("users", ids.legacy.userId),
    b: await ctx.db.get("authAccounts", ids.b.accountId),
  }));
  expect(after.legacy!.providerAccountId).toBe("legacy@example.com");
  expect(after.legacyUser!.email).toBe("legacy@example.com");
  expect(after.b!.providerAccountId).toBe("DUP@example.com");
  expect(await t.mutation(internal.governance.lowercaseAccountEmails, {})).toEqual({ changed: 0, collisions: [ids.b.accountId] });
});
