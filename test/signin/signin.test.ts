// Password sign-in, played by an attacker, with the official client against
// the embedded backend (real @convex-dev/auth sign-ins, real Scrypt hashes):
// an unknown account and a wrong password must answer alike, and someone
// else's wrong guesses — from another address — must never lock the real
// person out (the library alone locked an account after 10 bad guesses).
import { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { SIGN_IN_LIMITS, WRONG_CREDENTIALS } from "../../convex/model/passwordSignIn";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { errorOf } from "../helpers/errors";
import { fetchFrom } from "../helpers/sourceAddress";
import { PASSWORD, signUpFresh } from "../helpers/signup";

let b: SpawnedBackend;
beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  await b?.stop();
});

function clientFrom(address: string): ConvexHttpClient {
  return new ConvexHttpClient(b.url, { logger: false, fetch: fetchFrom(address) });
}

const signIn = (c: ConvexHttpClient, email: string, password: string) =>
  c.action(api.auth.signIn, { provider: "password", params: { email, password, flow: "signIn" } }) as Promise<{
    tokens?: { token: string } | null;
  }>;

// Real Scrypt hashes, a dozen sign-ins a test: seconds each on a loaded 2-core machine.
describe("password sign-in", { timeout: 120_000 }, () => {
  test("an unknown account and a wrong password get the same answer", async () => {
    const { email } = await signUpFresh(b, "known");
    const c = clientFrom("127.0.0.11");
    const wrong = await errorOf(signIn(c, email, "not the password"));
    const unknown = await errorOf(signIn(c, `nobody-${Date.now()}@example.com`, "not the password"));
    expect(wrong).toEqual({ code: "unauthenticated", message: WRONG_CREDENTIALS });
    expect(unknown).toEqual(wrong);
  });

  test("someone else's wrong guesses from another address never lock the real person out", async () => {
    const { email } = await signUpFresh(b, "victim");
    const attacker = clientFrom("127.0.0.12");
    // More wrong guesses than the library's own per-account limit (10 an hour) and than ours per (account, address).
    const guesses = Math.max(11, SIGN_IN_LIMITS.perAccountAndIp.max + 1);
    const codes: string[] = [];
    for (let i = 0; i < guesses; i++) codes.push((await errorOf(signIn(attacker, email, `guess-${i}`))).code);
    expect(codes.slice(0, SIGN_IN_LIMITS.perAccountAndIp.max).every((c) => c === "unauthenticated")).toBe(true);
    expect(codes.at(-1)).toBe("rate_limited");
    // Even the right password is refused from the attacker's address now…
    expect((await errorOf(signIn(attacker, email, PASSWORD))).code).toBe("rate_limited");
    // …but the real person, elsewhere, signs in.
    const res = await signIn(clientFrom("127.0.0.13"), email, PASSWORD);
    expect(res.tokens?.token).toBeTruthy();
    expect(await b.httpClient(res.tokens!.token).query(api.auth.isAuthenticated, {})).toBe(true);
  });
});
