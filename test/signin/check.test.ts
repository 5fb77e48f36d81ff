// The sign-in check itself (convex/model/passwordSignIn.ts), step by step,
// with a counting stand-in for the library's Scrypt verification: the same
// work for an unknown account as for a wrong password (one verification
// each; timing lives in bench/), limits that cannot tell them apart, and a
// successful sign-in that clears its address's failures.
import { describe, expect, test } from "vitest";
import { checkPassword, DUMMY_HASH, SIGN_IN_LIMITS, WRONG_CREDENTIALS, type Verifier } from "../../convex/model/passwordSignIn";
import { makeTest, type TestConvex } from "../helpers/convex";

const REAL_HASH = `${"ab".repeat(16)}:${"cd".repeat(64)}`; // the library's shape: 16-byte salt, 64-byte key

async function withAccount(t: TestConvex, email: string) {
  await t.run(async (ctx) => {
    const userId = await ctx.db.insert("users", { email });
    await ctx.db.insert("authAccounts", { userId, provider: "password", providerAccountId: email, secret: REAL_HASH });
  });
}

function counting() {
  const seen: string[] = [];
  const verify: Verifier = async (password, hash) => {
    seen.push(hash);
    return hash === REAL_HASH && password === "right password";
  };
  return { verify, seen };
}

const check = (t: TestConvex, email: string, password: string, verify: Verifier, ip = "192.0.2.1") =>
  t.run(async (ctx) => await checkPassword(ctx, { email, password, ip }, verify));

describe("checkPassword", () => {
  test("unknown account and wrong password: one verification each, against a hash of the same shape, same answer", async () => {
    const t = await makeTest();
    await withAccount(t, "alice@example.com");
    const c = counting();
    const wrong = await check(t, "alice@example.com", "wrong", c.verify);
    const unknown = await check(t, "nobody@example.com", "wrong", c.verify, "192.0.2.2");
    expect(c.seen).toEqual([REAL_HASH, DUMMY_HASH]);
    expect(DUMMY_HASH.split(":").map((p) => p.length)).toEqual(REAL_HASH.split(":").map((p) => p.length));
    expect(wrong).toEqual({ ok: false, code: "unauthenticated", message: WRONG_CREDENTIALS });
    expect(unknown).toEqual(wrong);
    const ok = await check(t, "alice@example.com", "right password", c.verify);
    expect(ok.ok).toBe(true);
    expect(c.seen).toHaveLength(3);
  });

  test("limits count unknown accounts like real ones; a limited attempt verifies nothing", async () => {
    const t = await makeTest();
    await withAccount(t, "alice@example.com");
    const run = async (email: string, ip: string) => {
      const c = counting();
      const out: string[] = [];
      for (let i = 0; i <= SIGN_IN_LIMITS.perAccountAndIp.max; i++) out.push((await check(t, email, `nope-${i}`, c.verify, ip)).ok ? "ok" : "no");
      const last = await check(t, email, "right password", c.verify, ip);
      return { codes: out, last: last.ok ? "ok" : last.code, verifications: c.seen.length };
    };
    const real = await run("alice@example.com", "198.51.100.1");
    const unknown = await run("ghost@example.com", "198.51.100.2");
    expect(unknown).toEqual(real);
    expect(real.last).toBe("rate_limited"); // even the right password, from that address
    expect(real.verifications).toBe(SIGN_IN_LIMITS.perAccountAndIp.max);
    // Another address is not affected.
    expect((await check(t, "alice@example.com", "right password", counting().verify, "198.51.100.3")).ok).toBe(true);
  });

  test("failures per address across accounts are limited too", async () => {
    const t = await makeTest();
    const c = counting();
    const ip = "203.0.113.5";
    for (let i = 0; i < SIGN_IN_LIMITS.perIp.max; i++) {
      expect((await check(t, `spray-${i}@example.com`, "x", c.verify, ip)).ok).toBe(false);
    }
    expect(await check(t, "another@example.com", "x", c.verify, ip)).toMatchObject({ ok: false, code: "rate_limited" });
  });

  test("a successful sign-in clears that address's failures for the account", async () => {
    const t = await makeTest();
    await withAccount(t, "alice@example.com");
    const c = counting();
    for (let i = 0; i < SIGN_IN_LIMITS.perAccountAndIp.max - 1; i++) await check(t, "alice@example.com", `typo-${i}`, c.verify);
    expect((await check(t, "alice@example.com", "right password", c.verify)).ok).toBe(true);
    for (let i = 0; i < SIGN_IN_LIMITS.perAccountAndIp.max - 1; i++) {
      expect(await check(t, "alice@example.com", `typo-again-${i}`, c.verify)).toMatchObject({ code: "unauthenticated" });
    }
  });
});
