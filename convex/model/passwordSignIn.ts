/**
 * Password sign-in, hardened. `@convex-dev/auth`'s Password provider (0.0.x)
 * answers an unknown account ("InvalidAccountId", no hash computed) and a
 * wrong password ("InvalidSecret", one Scrypt) differently, in message and in
 * time, and counts failures per *account* (10 an hour, then the account
 * refuses even its right password): anyone could lock anyone out.
 *
 * keyhole keeps the library's provider for sign-up (same id "password", same
 * Scrypt hashes) and replaces only its "signIn" flow:
 *   - one answer for an unknown account and a wrong password:
 *     `unauthenticated` "wrong email or password";
 *   - one Scrypt verification either way (against a dummy hash of the same
 *     shape when there is no account), so the time is the same work;
 *   - failures are counted per client IP (all accounts) and per (account,
 *     IP), never per account alone: someone else's wrong guesses, from
 *     another address, never lock the real person out. Unknown accounts count
 *     the same as real ones, so limits reveal nothing either.
 * The check runs in one mutation (as the library's own does), so concurrent
 * guesses are serialized on the counters and cannot slip past a limit.
 */
import { ConvexCredentials } from "@convex-dev/auth/providers/ConvexCredentials";
import { Password } from "@convex-dev/auth/providers/Password";
import type { GenericActionCtxWithAuthConfig } from "@convex-dev/auth/server";
import { v, type Infer } from "convex/values";
import { internal } from "../_generated/api";
import type { DataModel, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { sha256Hex } from "./crypto";
import { keyholeError } from "./errors";
import { emailKey, normalizeEmail } from "./governance/email";
import { requestInfo } from "./principal";
import { consume, retryAfterMs, type Limit } from "./rateLimit";

export const PROVIDER_ID = "password";
export const WRONG_CREDENTIALS = "wrong email or password";

/** Failed sign-ins allowed per window: per client IP (any account), per (account, IP). */
export const SIGN_IN_LIMITS = {
  perIp: { max: 30, windowMs: 15 * 60_000 },
  perAccountAndIp: { max: 5, windowMs: 15 * 60_000 },
} satisfies Record<string, Limit>;

type CredentialsOptions = {
  id: string;
  authorize: (params: Record<string, unknown>, ctx: GenericActionCtxWithAuthConfig<DataModel>) => Promise<{ userId: Id<"users"> } | null>;
  crypto: { hashSecret: (s: string) => Promise<string>; verifySecret: (s: string, hash: string) => Promise<boolean> };
};

/** The library's Password provider: sign-up, hashing, and every flow but "signIn". */
// Accounts' ids are e-mail addresses in lowercase (governance/email.ts).
const library = (
  Password<DataModel>({ profile: (params) => ({ email: normalizeEmail(String(params.email ?? "")) }) }) as unknown as {
    options: CredentialsOptions;
  }
).options;

/** A hash of the library's shape (Scrypt, 16-byte salt : 64-byte key) that no password matches. */
export const DUMMY_HASH = `${"0".repeat(32)}:${"0".repeat(128)}`;

export type Verifier = (password: string, hash: string) => Promise<boolean>;
const libraryVerify: Verifier = async (password, hash) => await library.crypto.verifySecret(password, hash);

export const vCheckResult = v.union(
  v.object({ ok: v.literal(true), userId: v.id("users") }),
  v.object({ ok: v.literal(false), code: v.union(v.literal("unauthenticated"), v.literal("rate_limited")), message: v.string() }),
);
export type CheckResult = Infer<typeof vCheckResult>;

const MAX_EMAIL = 320;
const MAX_PASSWORD = 1024;

/**
 * Checks an email and password: the one path for known and unknown accounts.
 * `verify` is the library's Scrypt check (a parameter so tests can count it).
 */
export async function checkPassword(
  ctx: MutationCtx,
  args: { email: string; password: string; ip?: string },
  verify: Verifier = libraryVerify,
): Promise<CheckResult> {
  const ip = args.ip ?? "unknown";
  const ipKey = `signin-fail:ip:${ip}`;
  // The email as typed (the account id is exactly that); hashed so the key holds no address.
  const pairKey = `signin-fail:acct-ip:${await sha256Hex(args.email.slice(0, MAX_EMAIL))}:${ip}`;
  const wait = Math.max(
    await retryAfterMs(ctx, ipKey, SIGN_IN_LIMITS.perIp),
    await retryAfterMs(ctx, pairKey, SIGN_IN_LIMITS.perAccountAndIp),
  );
  if (wait > 0) {
    return {
      ok: false,
      code: "rate_limited",
      message: `too many failed sign-ins from this address: try again in ${Math.ceil(wait / 1000)} s`,
    };
  }
  const account =
    args.email.length <= MAX_EMAIL
      ? await ctx.db
          .query("authAccounts")
          .withIndex("providerAndAccountId", (q) => q.eq("provider", PROVIDER_ID).eq("providerAccountId", args.email))
          .unique()
      : null;
  // Exactly one verification whether or not the account exists.
  const matches = await verify(args.password.slice(0, MAX_PASSWORD), account?.secret ?? DUMMY_HASH);
  if (account === null || account.secret === undefined || !matches) {
    await consume(ctx, ipKey, SIGN_IN_LIMITS.perIp);
    await consume(ctx, pairKey, SIGN_IN_LIMITS.perAccountAndIp);
    return { ok: false, code: "unauthenticated", message: WRONG_CREDENTIALS };
  }
  await resetLimit(ctx, pairKey);
  return { ok: true, userId: account.userId };
}

async function resetLimit(ctx: MutationCtx, key: string): Promise<void> {
  const row = await ctx.db
    .query("rateLimits")
    .withIndex("by_key", (q) => q.eq("key", key))
    .unique();
  if (row !== null) await ctx.db.delete("rateLimits", row._id);
}

/** The "signIn" flow: the one answer for every refusal, as a keyhole error. */
async function signIn(
  params: Record<string, unknown>,
  ctx: GenericActionCtxWithAuthConfig<DataModel>,
): Promise<{ userId: Id<"users"> }> {
  const { email, password } = params;
  if (typeof email !== "string" || typeof password !== "string" || email.length === 0 || password.length === 0) {
    throw keyholeError("invalid_argument", "sign in with an email and a password");
  }
  const { ip } = await requestInfo(ctx as unknown as Parameters<typeof requestInfo>[0]);
  // "Bob@Corp.test" signs in to "bob@corp.test" (an address of any shape gets the one refusal).
  const result = await ctx.runMutation(internal.passwords.check, { email: emailKey(email) ?? email, password, ip });
  if (!result.ok) throw keyholeError(result.code, result.message);
  return { userId: result.userId };
}

/** keyhole's password provider: the library's, with the signIn flow above. */
export const KeyholePassword = ConvexCredentials<DataModel>({
  ...library,
  authorize: async (params, ctx) =>
    params.flow === "signIn" ? await signIn(params, ctx) : await library.authorize(params, ctx),
});
