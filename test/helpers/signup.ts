// Real password sign-ups and sign-ins (@convex-dev/auth's Password provider)
// on a spawned embedded backend, through the official ConvexHttpClient.
import { api } from "../../convex/_generated/api";
import type { SpawnedBackend } from "./backend";

export const PASSWORD = "correct horse battery staple";

export type SignInTokens = { token: string; refreshToken: string };

async function password(
  b: Pick<SpawnedBackend, "httpClient">,
  email: string,
  flow: "signUp" | "signIn",
): Promise<SignInTokens> {
  const res = (await b.httpClient().action(api.auth.signIn, {
    provider: "password",
    params: { email, password: PASSWORD, flow },
  })) as { tokens?: SignInTokens | null };
  if (!res.tokens?.token) throw new Error(`${flow} returned no token`);
  return res.tokens;
}

/** Creates an account for `email` (password PASSWORD); returns the sign-in's JWT and refresh token. */
export async function passwordSignUp(b: Pick<SpawnedBackend, "httpClient">, email: string): Promise<SignInTokens> {
  return await password(b, email, "signUp");
}

/** Signs an existing account in again (another device); returns the new sign-in's tokens. */
export async function passwordSignIn(b: Pick<SpawnedBackend, "httpClient">, email: string): Promise<SignInTokens> {
  return await password(b, email, "signIn");
}

let fresh = 0;

/** Signs up a new account with a unique address (`<prefix><n>-<time>@example.com`). */
export async function signUpFresh(
  b: Pick<SpawnedBackend, "httpClient">,
  prefix = "user",
): Promise<SignInTokens & { email: string }> {
  const email = `${prefix}${++fresh}-${Date.now()}@example.com`;
  return { email, ...(await passwordSignUp(b, email)) };
}
