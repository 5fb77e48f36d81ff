// The token format and its verification: ES256 only, our key only, any
// change to any character refused; the public JWKS endpoint; key rotation.
import { exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import { base64url, sha256Hex } from "../../convex/model/crypto";
import { inspect } from "../../convex/model/http/guard";
import { verifyKeyholeToken } from "../../convex/model/http/verify";
import { keyIdOf, TOKEN_PREFIX, type PublicJwk } from "../../convex/model/keys";
import { asToken } from "../helpers/convex";
import { TEST_ISSUER } from "../helpers/env";
import { codeOf } from "../helpers/errors";
import { patFor, world } from "./fixtures";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const enc = (o: unknown) => base64url(new TextEncoder().encode(JSON.stringify(o)));
const dec = (s: string) => JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));

async function jwks(t: Awaited<ReturnType<typeof world>>["t"]): Promise<PublicJwk[]> {
  const res = await t.fetch("/keyhole/jwks.json");
  return ((await res.json()) as { keys: PublicJwk[] }).keys;
}

/** Changes one character so that the bytes it encodes change (the top bit of its 6 bits). */
function flipAt(token: string, i: number): string {
  const c = token[i];
  const replacement = c === "." ? "A" : B64[B64.indexOf(c) ^ 0b100000];
  return token.slice(0, i) + replacement + token.slice(i + 1);
}

let savedKey: string | undefined;
afterEach(() => {
  if (savedKey !== undefined) process.env.KEYHOLE_SIGNING_KEY = savedKey;
  savedKey = undefined;
  vi.useRealTimers();
});

describe("sha256Hex", () => {
  test("is SHA-256 (FIPS 180-4 test vectors, and a token-like input against Web Crypto)", async () => {
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const text = `${TOKEN_PREFIX}.é-ü-${"x".repeat(300)}`;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
    expect(await sha256Hex(text)).toBe([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
  });
});

describe("token format", () => {
  test("every keyhole token starts with the same header text", async () => {
    const { t, alice, carol } = await world();
    const a = await patFor(t, alice, []);
    const b = await patFor(t, carol, ["acme=work:read"]);
    expect(TOKEN_PREFIX).toBe("eyJhbGciOiJFUzI1NiIsImtpZCI6ImtoIn".slice(0, 32));
    for (const token of [a.token, b.token]) {
      expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
      const [header, payload] = token.split(".").map((s, i) => (i < 2 ? dec(s) : s));
      expect(header).toEqual({ alg: "ES256", kid: expect.stringMatching(/^kh-/), typ: "JWT" });
      expect(payload).toMatchObject({ kind: "pat", sub: `pat:${payload.jti}`, iss: TEST_ISSUER, aud: "keyhole" });
    }
  });
});

describe("verification refuses", () => {
  test("a token altered in any single character (every position)", async () => {
    const { t, alice } = await world();
    const { token } = await patFor(t, alice, []);
    const keys = await jwks(t);
    expect(await verifyKeyholeToken(token, keys)).not.toBeNull();
    const accepted: number[] = [];
    for (let i = 0; i < token.length; i++) {
      if ((await verifyKeyholeToken(flipAt(token, i), keys)) !== null) accepted.push(i);
    }
    expect(accepted).toEqual([]);
  });

  test("a signature spelled differently in its spare bits (non-canonical base64url)", async () => {
    const { t, alice } = await world();
    const { token } = await patFor(t, alice, []);
    const keys = await jwks(t);
    const last = B64.indexOf(token[token.length - 1]);
    for (const d of [1, 2, 4, 8]) {
      const variant = token.slice(0, -1) + B64[last ^ d];
      expect(await verifyKeyholeToken(variant, keys)).toBeNull();
    }
  });

  test("the production entry point (HTTP guard) refuses every non-canonical spelling, in any segment", async () => {
    const { t, alice } = await world();
    const { token } = await patFor(t, alice, []);
    const keys = await jwks(t);
    const ctx = { runQuery: async () => keys } as never;
    expect(await inspect(ctx, token)).toMatchObject({ kind: "pat", expired: false });
    const parts = token.split(".");
    const variants: string[] = [];
    for (let seg = 0; seg < 3; seg++) {
      const s = parts[seg];
      if (s.length % 4 === 0) continue; // no spare bits in this segment
      const last = B64.indexOf(s[s.length - 1]);
      for (const d of [1, 2]) {
        const changed = [...parts];
        changed[seg] = s.slice(0, -1) + B64[last ^ d];
        variants.push(changed.join("."));
      }
    }
    expect(variants.length).toBeGreaterThanOrEqual(2);
    for (const v of variants) expect(await inspect(ctx, v)).toBeNull();
    // Padding or a longer signature is another spelling too.
    expect(await inspect(ctx, `${token}=`)).toBeNull();
    expect(await inspect(ctx, `${token}A`)).toBeNull();
  });

  test("an expired token of ours is recognized as expired (to count the failure), not as valid", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    const { token, tokenId, expiresAt } = await patFor(t, alice, [], { expiresIn: 60 });
    const keys = await jwks(t);
    vi.setSystemTime(expiresAt + 1000);
    expect(await verifyKeyholeToken(token, keys)).toMatchObject({ kind: "pat", id: tokenId, expired: true });
  });

  test("a token signed by another key, even with our kid in its header", async () => {
    const { t, alice } = await world();
    const { token } = await patFor(t, alice, []);
    const keys = await jwks(t);
    const [h, p] = token.split(".");
    const header = dec(h);
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(dec(p)).setProtectedHeader(header).sign(privateKey);
    expect(forged.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(await verifyKeyholeToken(forged, keys)).toBeNull();
  });

  test("alg changed: none, HS256 keyed with the public key, ES384, RS256", async () => {
    const { t, alice } = await world();
    const { token } = await patFor(t, alice, []);
    const keys = await jwks(t);
    const [h, p, s] = token.split(".");
    const header = dec(h);
    const variants: string[] = [];
    // alg none, with and without the signature.
    variants.push(`${enc({ ...header, alg: "none" })}.${p}.`, `${enc({ ...header, alg: "none" })}.${p}.${s}`);
    // HS256 with the public JWK as the shared secret (key confusion).
    const secret = new TextEncoder().encode(JSON.stringify(keys[0]));
    variants.push(await new SignJWT(dec(p)).setProtectedHeader({ ...header, alg: "HS256" }).sign(secret));
    const es384 = await generateKeyPair("ES384");
    variants.push(await new SignJWT(dec(p)).setProtectedHeader({ ...header, alg: "ES384" }).sign(es384.privateKey));
    const rs = await generateKeyPair("RS256");
    variants.push(await new SignJWT(dec(p)).setProtectedHeader({ ...header, alg: "RS256" }).sign(rs.privateKey));
    // The original signature under a header that only changes alg.
    variants.push(`${enc({ ...header, alg: "ES384" })}.${p}.${s}`);
    for (const v of variants) expect(await verifyKeyholeToken(v, keys)).toBeNull();
  });

  test("a payload with a different subject, issuer, audience or expiry under the original signature", async () => {
    const { t, alice } = await world();
    const { token } = await patFor(t, alice, []);
    const keys = await jwks(t);
    const [h, p, s] = token.split(".");
    const payload = dec(p);
    for (const change of [{ sub: "pat:other" }, { iss: "https://evil.example/keyhole" }, { aud: "convex" }, { exp: payload.exp + 3600 }]) {
      expect(await verifyKeyholeToken(`${h}.${enc({ ...payload, ...change })}.${s}`, keys)).toBeNull();
    }
  });
});

describe("claims checks (signed with our own key, so only the claim can fail)", () => {
  /** Re-signs `payload` with the deployment's signing key and our header: a valid signature. */
  async function signOurs(header: Record<string, unknown>, payload: Record<string, unknown>) {
    const key = await importJWK(JSON.parse(process.env.KEYHOLE_SIGNING_KEY!), "ES256");
    return await new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
  }

  test("issuer, audience, subject/jti/kind agreement and the required claims are each checked", async () => {
    const { t, alice } = await world();
    const { token, tokenId } = await patFor(t, alice, []);
    const keys = await jwks(t);
    const [h, p] = token.split(".");
    const header = dec(h);
    const payload = dec(p);
    // Control: the same claims re-signed with our key verify, so each refusal below is its claim's.
    expect(await verifyKeyholeToken(await signOurs(header, payload), keys)).toMatchObject({ kind: "pat", id: tokenId, expired: false });
    const omit = (k: string) => Object.fromEntries(Object.entries(payload).filter(([key]) => key !== k));
    const changed: [string, Record<string, unknown>][] = [
      ["issuer", { ...payload, iss: "https://evil.example/keyhole" }],
      ["audience", { ...payload, aud: "convex" }],
      ["jti ≠ subject id", { ...payload, jti: "other" }],
      ["kind ≠ subject kind", { ...payload, kind: "agent" }],
      ["subject not pat:/agent:", { ...payload, sub: `user:${tokenId}` }],
      ["no jti", omit("jti")],
      ["no exp", omit("exp")],
      ["no sub", omit("sub")],
      ["exp not a number", { ...payload, exp: String(payload.exp) }],
    ];
    for (const [what, claims] of changed) {
      expect(await verifyKeyholeToken(await signOurs(header, claims), keys), what).toBeNull();
    }
  });
});

describe("JWKS endpoint", () => {
  test("serves the current public key (no private parts) with Cache-Control public, max-age=60", async () => {
    const { t } = await world();
    const res = await t.fetch("/keyhole/jwks.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=60");
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(body.keys).toHaveLength(1);
    const current = JSON.parse(process.env.KEYHOLE_SIGNING_KEY!);
    expect(body.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig", x: current.x, y: current.y });
    expect(body.keys[0].kid).toBe(await keyIdOf(current));
    expect(body.keys[0]).not.toHaveProperty("d");
  });
});

describe("key rotation", () => {
  test("old tokens keep working until they expire; new tokens use the new key; the old key leaves the JWKS after its last token", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { t, alice } = await world();
    savedKey = process.env.KEYHOLE_SIGNING_KEY!;
    const oldJwk = JSON.parse(savedKey);
    const oldPat = await patFor(t, alice, ["acme/site=work:read"], { expiresIn: 7 * 86400 });
    const { x, y, kty, crv } = oldJwk;

    // 1. Record the old public key while it still signs.
    const before = await t.mutation(internal.keys.retireKey, { publicJwk: JSON.stringify({ kty, crv, x, y }), phase: "before" });
    expect(before.notAfter).toBeGreaterThan(Date.now() + 365 * 86400_000);
    // Finishing while the key is still current is refused.
    expect(await codeOf(t.mutation(internal.keys.retireKey, { publicJwk: JSON.stringify(oldJwk) }))).toBe("conflict");

    // 2. Switch KEYHOLE_SIGNING_KEY to a new key.
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const newJwk = await exportJWK(privateKey);
    process.env.KEYHOLE_SIGNING_KEY = JSON.stringify(newJwk);

    // 3. Finish: notAfter = the last expiry of a PAT the old key signed (+ margin).
    const after = await t.mutation(internal.keys.retireKey, { publicJwk: JSON.stringify(oldJwk) });
    expect(after.latestTokenExpiry).toBe(oldPat.expiresAt);
    expect(after.notAfter).toBeGreaterThanOrEqual(oldPat.expiresAt);
    expect(after.notAfter).toBeLessThan(oldPat.expiresAt + 3600_000);

    const keys = await jwks(t);
    expect(keys.map((k) => k.kid)).toEqual([await keyIdOf(newJwk), await keyIdOf(oldJwk)]);
    expect(await verifyKeyholeToken(oldPat.token, keys)).not.toBeNull();
    const newPat = await patFor(t, alice, []);
    expect(JSON.parse(atob(newPat.token.split(".")[0])).kid).toBe(await keyIdOf(newJwk));
    expect(await verifyKeyholeToken(newPat.token, keys)).not.toBeNull();
    // The old token still works for calls.
    expect(await codeOf(asToken(t, "pat", oldPat.tokenId).query(api.items.get, { workspace: "acme/site", name: "notes" }))).toBe("ok");

    // After the old key's last token expires (plus margin), it is no longer served.
    vi.setSystemTime(after.notAfter + 1);
    const later = await jwks(t);
    expect(later.map((k) => k.kid)).toEqual([await keyIdOf(newJwk)]);
    expect(await t.mutation(internal.keys.pruneRetiredKeys, {})).toBe(1);
  });

  test("publishKey puts the next key in the JWKS before it signs anything", async () => {
    const { t } = await world();
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const next = await exportJWK(privateKey);
    const { x, y, kty, crv } = next;
    await t.mutation(internal.keys.publishKey, { publicJwk: JSON.stringify({ kty, crv, x, y }) });
    const keys = await jwks(t);
    expect(keys.map((k) => k.kid)).toContain(await keyIdOf(next));
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(k).not.toHaveProperty("d");
  });

  test("a key that signed nothing is still kept for the longest agent session", async () => {
    const { t } = await world();
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    const res = await t.mutation(internal.keys.retireKey, { publicJwk: JSON.stringify(await exportJWK(publicKey)) });
    expect(res.latestTokenExpiry).toBeNull();
    expect(res.notAfter).toBeGreaterThanOrEqual(Date.now() + 24 * 3600_000);
  });

  test("rejects a JWK that is not EC P-256", async () => {
    const { t } = await world();
    const rs = await generateKeyPair("RS256", { extractable: true });
    expect(await codeOf(t.mutation(internal.keys.retireKey, { publicJwk: JSON.stringify(await exportJWK(rs.publicKey)) }))).toBe(
      "invalid_argument",
    );
    expect(await codeOf(t.mutation(internal.keys.retireKey, { publicJwk: "not json" }))).toBe("invalid_argument");
  });
});
