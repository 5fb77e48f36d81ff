// Real sign-ups and PATs through the public API, for benchmarks and stress
// tests that need a few of them (the seeder is for thousands).
import { ConvexHttpClient } from "convex/browser";
import { api } from "../../convex/_generated/api";

export const PASSWORD = "correct horse battery staple 42";

export async function signUp(url: string, email: string): Promise<{ client: ConvexHttpClient; token: string; refreshToken: string }> {
  const client = new ConvexHttpClient(url, { logger: false });
  const res = (await client.action(api.auth.signIn, {
    provider: "password",
    params: { email, password: PASSWORD, flow: "signUp" },
  })) as { tokens?: { token: string; refreshToken: string } | null };
  if (!res.tokens) throw new Error(`sign-up of ${email} returned no tokens`);
  client.setAuth(res.tokens.token);
  return { client, token: res.tokens.token, refreshToken: res.tokens.refreshToken };
}

/**
 * Hands out fresh PATs, signing up another person whenever the current one
 * reaches the per-person creation limit (20 an hour).
 */
export class TokenPool {
  private current: ConvexHttpClient | null = null;
  private made = 0;
  private people = 0;
  constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly perPerson = 20,
  ) {}

  async next(scopes: string[] = []): Promise<{ token: string; tokenId: string; owner: ConvexHttpClient }> {
    if (!this.current || this.made >= this.perPerson) {
      this.current = (await signUp(this.url, `${this.prefix}-${this.people++}@example.test`)).client;
      this.made = 0;
    }
    const owner = this.current;
    const r = await owner.mutation(api.auth.createApiToken, { name: `${this.prefix}-${this.made++}`, scopes });
    return { token: r.token, tokenId: r.tokenId, owner };
  }
}
