/**
 * The database half of password sign-in (convex/model/passwordSignIn.ts):
 * one internal mutation, called by the "signIn" flow of keyhole's password
 * provider (convex/auth.ts). Not public: only the provider runs it.
 */
import { v } from "convex/values";
import { internalMutation } from "./_generated/server";
import { checkPassword, vCheckResult } from "./model/passwordSignIn";

/** Checks an email and password; counts failures per IP and per (account, IP). */
export const check = internalMutation({
  args: { email: v.string(), password: v.string(), ip: v.optional(v.string()) },
  returns: vCheckResult,
  handler: async (ctx, args) => await checkPassword(ctx, args),
});
