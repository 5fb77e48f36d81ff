// The official clients, unmodified, against the embedded backend in a child
// process: ConvexHttpClient over HTTP, ConvexClient over the sync WebSocket.
import { ConvexError } from "convex/values";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { passwordSignUp, signUpFresh } from "../helpers/signup";

let b: SpawnedBackend;
beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  await b?.stop();
});

const signUp = () => signUpFresh(b, "user");

function until<T>(pred: (v: T) => boolean, timeoutMs = 10_000) {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const p = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(() => reject(new Error("timed out waiting for a value")), timeoutMs);
  return {
    promise: p,
    push(v: T) {
      if (pred(v)) {
        clearTimeout(timer);
        resolve(v);
      }
    },
  };
}

describe("ConvexHttpClient", () => {
  test("query, mutation and action", async () => {
    const http = b.httpClient();
    // query
    expect(await http.query(api.auth.isAuthenticated, {})).toBe(false);
    // action (sign-up runs mutations under the hood)
    const { token } = await signUp();
    expect(token.split(".")).toHaveLength(3);
    // mutation, authenticated by that token
    const authed = b.httpClient(token);
    const slug = `org-${Date.now()}`;
    const orgId = await authed.mutation(api.orgs.create, { slug, name: "Acme" });
    expect(typeof orgId).toBe("string");
    const mine = await authed.query(api.orgs.listMine, {});
    expect(JSON.stringify(mine)).toContain(slug);
  });

  test("ConvexError data reaches the caller intact", async () => {
    const http = b.httpClient();
    const err = await http.mutation(api.orgs.create, { slug: "nope", name: "Nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvexError);
    const data = (err as ConvexError<{ code: string; message: string }>).data;
    expect(data.code).toBe("unauthenticated");
    expect(typeof data.message).toBe("string");
  });

  test("a plain function error is an Error with its message", async () => {
    const http = b.httpClient();
    // @convex-dev/auth's Password provider refuses a short password with a plain Error.
    const err = await http
      .action(api.auth.signIn, { provider: "password", params: { email: "short@example.com", password: "short", flow: "signUp" } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ConvexError);
    expect(String((err as Error).message)).toMatch(/Invalid password/);
  });

  test("sign-in JWT authenticates the HTTP client", async () => {
    const { token } = await signUp();
    expect(await b.httpClient(token).query(api.auth.isAuthenticated, {})).toBe(true);
  });

  test("a forged JWT is refused", async () => {
    const { token } = await signUp();
    const [h, p] = token.split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: "someoneelse|x" })).toString("base64url");
    const forged = `${h}.${forgedPayload}.${token.split(".")[2]}`;
    await expect(b.httpClient(forged).query(api.auth.isAuthenticated, {})).rejects.toThrow(/Unauthenticated/);
    // Signed with a key that is not in the JWKS.
    const { SignJWT, generateKeyPair } = await import("jose");
    const { privateKey } = await generateKeyPair("RS256");
    const other = await new SignJWT({ sub: "x|y" })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(b.siteUrl)
      .setAudience("convex")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
    await expect(b.httpClient(other).query(api.auth.isAuthenticated, {})).rejects.toThrow(/Unauthenticated/);
    // Not a JWT at all.
    await expect(b.httpClient("garbage").query(api.auth.isAuthenticated, {})).rejects.toThrow(/Unauthenticated/);
  });

  test("an expired JWT is refused", async () => {
    // Sign an already-expired token with the backend's own @convex-dev/auth key.
    const fs = await import("node:fs");
    const path = await import("node:path");
    const { SignJWT, importPKCS8 } = await import("jose");
    const env = JSON.parse(fs.readFileSync(path.join(b.dataDir, "env.json"), "utf8")) as Record<string, string>;
    const key = await importPKCS8(env.JWT_PRIVATE_KEY!, "RS256");
    // The subject of a real, live sign-in, so only the expiry differs.
    const { token: signedIn } = await passwordSignUp(b, "expiry@example.com");
    const sub = (JSON.parse(Buffer.from(signedIn.split(".")[1], "base64url").toString()) as { sub: string }).sub;
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ sub })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(b.siteUrl)
      .setAudience("convex")
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(key);
    await expect(b.httpClient(expired).query(api.auth.isAuthenticated, {})).rejects.toThrow(/expired/i);
    // The same key with a valid expiry works, so it is the expiry that was refused.
    const valid = await new SignJWT({ sub })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(b.siteUrl)
      .setAudience("convex")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(key);
    await expect(b.httpClient(valid).query(api.auth.isAuthenticated, {})).resolves.toBe(true);
  });
});

describe("ConvexClient (WebSocket sync)", () => {
  test("query, mutation and action over the socket", async () => {
    const c = b.client();
    expect(await c.query(api.auth.isAuthenticated, {})).toBe(false);
    const res = (await c.action(api.auth.signIn, {
      provider: "password",
      params: { email: `ws-${Date.now()}@example.com`, password: "correct horse battery", flow: "signUp" },
    })) as { tokens: { token: string } };
    c.setAuth(async () => res.tokens.token);
    const orgId = await c.mutation(api.orgs.create, { slug: `ws-${Date.now()}`, name: "WS" });
    expect(typeof orgId).toBe("string");
    expect(await c.query(api.auth.isAuthenticated, {})).toBe(true);
  });

  test("ConvexError data round-trips over the socket", async () => {
    const c = b.client();
    const err = await c.mutation(api.orgs.create, { slug: "x", name: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvexError);
    expect((err as ConvexError<{ code: string }>).data.code).toBe("unauthenticated");
  });

  test("a live subscription sees a write made by another client", async () => {
    const { token } = await signUp();
    const watcher = b.client();
    watcher.setAuth(async () => token);
    const seen = until<unknown[]>((v) => v.length === 1);
    const first = until<unknown[]>((v) => v.length === 0);
    const unsubscribe = watcher.onUpdate(api.orgs.listMine, {}, (v) => {
      first.push(v);
      seen.push(v);
    });
    await first.promise;
    // The write comes from a different client (HTTP) with the same identity.
    const slug = `live-${Date.now()}`;
    await b.httpClient(token).mutation(api.orgs.create, { slug, name: "Live" });
    const v = await seen.promise;
    expect(JSON.stringify(v)).toContain(slug);
    unsubscribe();
  });

  test("a mutation resolves after its own write is visible to the client's subscriptions", async () => {
    const { token } = await signUp();
    const c = b.client();
    c.setAuth(async () => token);
    let latest: unknown[] = [];
    const ready = until<unknown[]>(() => true);
    c.onUpdate(api.orgs.listMine, {}, (v) => {
      latest = v;
      ready.push(v);
    });
    await ready.promise;
    for (let i = 0; i < 3; i++) {
      await c.mutation(api.orgs.create, { slug: `ryw-${i}-${Date.now()}`, name: "R" });
      expect(latest).toHaveLength(i + 1);
    }
  });

  test("the sign-in JWT authenticates the socket; a forged one gets an auth error", async () => {
    const { token } = await signUp();
    const good = b.client();
    const authed = until<boolean>(() => true);
    good.setAuth(async () => token, (ok) => authed.push(ok));
    expect(await authed.promise).toBe(true);
    expect(await good.query(api.auth.isAuthenticated, {})).toBe(true);

    const bad = b.client();
    const refused = until<boolean>(() => true);
    bad.setAuth(async () => token.slice(0, -4) + "AAAA", (ok) => refused.push(ok));
    expect(await refused.promise).toBe(false);
    // The backend is still fine, and the client works unauthenticated.
    expect(await bad.query(api.auth.isAuthenticated, {})).toBe(false);
  });
});
