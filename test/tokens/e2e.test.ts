// PATs through the embedded local backend with the official clients:
// ConvexHttpClient.setAuth(pat) for allowed and denied calls, forged and
// altered tokens refused, and a ConvexClient subscription authenticated by a
// PAT that fails once the PAT is revoked from another client.
import type { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { outcome } from "../helpers/errors";
import { passwordSignUp } from "../helpers/signup";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const flipAt = (token: string, i: number) =>
  token.slice(0, i) + (token[i] === "." ? "A" : B64[B64.indexOf(token[i]) ^ 0b100000]) + token.slice(i + 1);
const b64json = (s: string) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

let b: SpawnedBackend;
let alice: ConvexHttpClient;
const clients: ConvexClient[] = [];

async function signUp(email: string): Promise<ConvexHttpClient> {
  return b.httpClient((await passwordSignUp(b, email)).token);
}

beforeAll(async () => {
  b = await spawnBackend();
  alice = await signUp("alice@example.com");
  await alice.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  await alice.mutation(api.items.put, { workspace: "acme/site", name: "Signal/temp-1", data: { celsius: 21 } });
  await alice.mutation(api.items.put, { workspace: "acme/site", name: "notes", data: "hi" });
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await b?.stop();
});

describe("a PAT is never an interactive sign-in", () => {
  test("isAuthenticated is false for a PAT; signOut with a PAT ends nothing", async () => {
    const { token } = await alice.mutation(api.auth.createApiToken, { name: "not-a-person", scopes: [] });
    const pat = b.httpClient(token);
    expect(await alice.query(api.auth.isAuthenticated, {})).toBe(true);
    expect(await pat.query(api.auth.isAuthenticated, {})).toBe(false);
    expect(await pat.action(api.auth.signOut, {})).toBeNull();
    // Neither the PAT nor its owner's sign-in was touched.
    expect(await pat.query(api.auth.viewer, {})).toMatchObject({ kind: "pat" });
    expect(await alice.query(api.auth.viewer, {})).toMatchObject({ kind: "user" });
  });

  test("signOut by a person ends that sign-in: its next call fails", async () => {
    const bob = await signUp("bob-signout@example.com");
    expect(await bob.query(api.auth.isAuthenticated, {})).toBe(true);
    await bob.action(api.auth.signOut, {});
    expect(await bob.query(api.auth.isAuthenticated, {})).toBe(false);
    expect(await outcome(bob.query(api.auth.viewer, {}))).toBe("unauthenticated");
  });
});

describe("ConvexHttpClient with a PAT", () => {
  test("allowed and denied calls follow the token's scopes", async () => {
    const { token, tokenId } = await alice.mutation(api.auth.createApiToken, {
      name: "reader",
      scopes: [{ resource: "acme/site", permissions: ["work:read"], allowedMatches: ["Signal/*"] }],
    });
    const pat = b.httpClient(token);
    expect(await pat.query(api.auth.viewer, {})).toMatchObject({ kind: "pat", tokenId });
    expect(await pat.query(api.items.get, { workspace: "acme/site", name: "Signal/temp-1" })).toMatchObject({
      data: { celsius: 21 },
    });
    expect(await outcome(pat.query(api.items.get, { workspace: "acme/site", name: "notes" }))).toBe("forbidden");
    expect(await outcome(pat.mutation(api.items.put, { workspace: "acme/site", name: "Signal/x", data: 1 }))).toBe("forbidden");
    const listed = await pat.query(api.items.list, { workspace: "acme/site", paginationOpts: { numItems: 10, cursor: null } });
    expect(listed.page.map((i) => i.name)).toEqual(["Signal/temp-1"]);
    // A PAT cannot manage PATs.
    expect(await outcome(pat.mutation(api.auth.createApiToken, { name: "child", scopes: [] }))).toBe("forbidden");
    expect(await outcome(pat.mutation(api.auth.revokeApiToken, { tokenId }))).toBe("forbidden");
  });

  test("a mutation through a PAT records its last use; revoke → the next call fails with code revoked", async () => {
    const { token, tokenId } = await alice.mutation(api.auth.createApiToken, { name: "writer", scopes: ["acme/site=work:write"] });
    const pat = b.httpClient(token);
    await pat.mutation(api.items.put, { workspace: "acme/site", name: "Signal/w", data: 1 });
    const info = await alice.query(api.auth.getApiToken, { tokenId });
    expect(info.lastUsedAt).toEqual(expect.any(Number));
    expect(info.lastUsedIp).toEqual(expect.any(String));
    await alice.mutation(api.auth.revokeApiToken, { tokenId });
    expect(await outcome(pat.mutation(api.items.put, { workspace: "acme/site", name: "Signal/w", data: 2 }))).toBe("revoked");
    expect(await outcome(pat.query(api.auth.viewer, {}))).toBe("revoked");
  });

  test("the JWKS the backend verifies with is served on the site URL", async () => {
    const res = await fetch(`${b.siteUrl}/keyhole/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=60");
    const { keys } = (await res.json()) as { keys: { kid: string; d?: string }[] };
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const k of keys) expect(k.d).toBeUndefined();
  });
});

describe("forged and altered tokens are refused by the backend", () => {
  let token: string;
  beforeAll(async () => {
    ({ token } = await alice.mutation(api.auth.createApiToken, { name: "victim", scopes: [] }));
    expect(await outcome(b.httpClient(token).query(api.auth.viewer, {}))).toBe("ok");
  });

  test("one character changed, at positions across header, payload and signature", async () => {
    const [h, p] = token.split(".");
    const positions = [
      0,
      10,
      h.length - 1,
      h.length, // the first "."
      h.length + 1,
      h.length + Math.floor(p.length / 2),
      h.length + p.length, // the second "."
      h.length + p.length + 1,
      h.length + p.length + 40,
      token.length - 2,
      token.length - 1,
    ];
    for (const i of positions) {
      const altered = flipAt(token, i);
      expect(altered).not.toBe(token);
      expect([i, await outcome(b.httpClient(altered).query(api.auth.viewer, {}))]).toEqual([i, "unauthenticated-jwt"]);
    }
  });

  test("the same signature bytes spelled with spare bits set (non-canonical base64url)", async () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = token[token.length - 1];
    // An 86-char ES256 signature's last char carries 2 bits; +1 sets a spare bit only.
    const variant = token.slice(0, -1) + alphabet[alphabet.indexOf(last) + 1];
    expect(await outcome(b.httpClient(variant).query(api.auth.viewer, {}))).toBe("unauthenticated-jwt");
  });

  test("signed by another key (with our kid and claims)", async () => {
    const [h, p] = token.split(".");
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(b64json(p)).setProtectedHeader(b64json(h)).sign(privateKey);
    expect(await outcome(b.httpClient(forged).query(api.auth.viewer, {}))).toBe("unauthenticated-jwt");
  });

  test("alg changed to none, HS256 (keyed with the public JWK) or ES384", async () => {
    const [h, p, s] = token.split(".");
    const header = b64json(h);
    const payload = b64json(p);
    const jwks = (await (await fetch(`${b.siteUrl}/keyhole/jwks.json`)).json()) as { keys: unknown[] };
    const hs = await new SignJWT(payload)
      .setProtectedHeader({ ...header, alg: "HS256" })
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    const es384 = await new SignJWT(payload).setProtectedHeader({ ...header, alg: "ES384" }).sign((await generateKeyPair("ES384")).privateKey);
    for (const forged of [`${enc({ ...header, alg: "none" })}.${p}.`, `${enc({ ...header, alg: "none" })}.${p}.${s}`, hs, es384]) {
      expect(await outcome(b.httpClient(forged).query(api.auth.viewer, {}))).toBe("unauthenticated-jwt");
    }
  });

  test("a valid signature over a changed payload (another token id) is refused", async () => {
    const [h, p, s] = token.split(".");
    const payload = b64json(p);
    const other = { ...payload, sub: "pat:xxxxxxxxxxxxxxxxxxxx", jti: "xxxxxxxxxxxxxxxxxxxx" };
    expect(await outcome(b.httpClient(`${h}.${enc(other)}.${s}`).query(api.auth.viewer, {}))).toBe("unauthenticated-jwt");
    void exportJWK;
  });
});

describe("ConvexClient subscription authenticated by a PAT", () => {
  test("stops returning data when the PAT is revoked from another client", async () => {
    const { token, tokenId } = await alice.mutation(api.auth.createApiToken, { name: "live", scopes: ["acme/site=work:read"] });
    const ws = b.client();
    clients.push(ws);
    ws.setAuth(async () => token);
    const values: unknown[] = [];
    const errors: Error[] = [];
    let notify = () => {};
    const changed = () => new Promise<void>((resolve) => (notify = resolve));
    let next = changed();
    ws.onUpdate(
      api.items.get,
      { workspace: "acme/site", name: "Signal/temp-1" },
      (v) => {
        values.push(v);
        notify();
      },
      (e) => {
        errors.push(e);
        notify();
      },
    );
    await next;
    expect(values).toHaveLength(1);
    expect(values[0]).toMatchObject({ data: { celsius: 21 } });

    // Live: a write by alice reaches the PAT's subscription.
    next = changed();
    await alice.mutation(api.items.put, { workspace: "acme/site", name: "Signal/temp-1", data: { celsius: 22 } });
    await next;
    expect(values.at(-1)).toMatchObject({ data: { celsius: 22 } });
    expect(errors).toEqual([]);

    // Revoked from another client: the subscription fails on its next evaluation.
    next = changed();
    await alice.mutation(api.auth.revokeApiToken, { tokenId });
    await next;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConvexError);
    expect((errors[0] as ConvexError<{ code: string }>).data.code).toBe("revoked");
    const valuesAtRevoke = values.length;

    // Further writes deliver no data to it.
    await alice.mutation(api.items.put, { workspace: "acme/site", name: "Signal/temp-1", data: { celsius: 99 } });
    // One round trip on the same socket instead of a sleep: a new query's answer
    // comes in a Transition past that write, and the socket's other results that
    // changed by then come in it or before it (local/sync.ts).
    await expect(ws.query(api.items.get, { workspace: "acme/site", name: "Signal/other" })).rejects.toThrow(/revoked/);
    expect(values.length).toBe(valuesAtRevoke);
    // (the data, not any "99" inside an id or a timestamp)
    expect(values.some((v) => JSON.stringify(v).includes('"celsius":99'))).toBe(false);
  });
});
