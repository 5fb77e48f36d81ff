// Token signing and verification rules (convex/model/keys.ts, http/verify.ts)
// that mutation testing (issue 19) showed no fast test pinned.
import { exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";
import { afterEach, expect, test } from "vitest";
import { base64url } from "../../convex/model/crypto";
import { isCanonicalKeyholeToken, verifyKeyholeToken } from "../../convex/model/http/verify";
import { currentSigningKey, parseKeyholeSubject, type PublicJwk } from "../../convex/model/keys";
import { patFor, world } from "./fixtures";

const dec = (s: string) => JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));

let saved: string | undefined;
afterEach(() => {
  if (saved !== undefined) process.env.KEYHOLE_SIGNING_KEY = saved;
  saved = undefined;
});

test("a subject is exactly `pat:<id>` or `agent:<id>`, id 1-64 of [A-Za-z0-9_]", () => {
  expect(parseKeyholeSubject("pat:abc_1")).toEqual({ kind: "pat", id: "abc_1" });
  expect(parseKeyholeSubject(`agent:${"a".repeat(64)}`)).toEqual({ kind: "agent", id: "a".repeat(64) });
  for (const bad of ["xpat:abc", "pat:abc/x", "pat:", `pat:${"a".repeat(65)}`, "PAT:abc", "user:abc", "pat:abc\n", "pat:a-b", " pat:abc"]) {
    expect(parseKeyholeSubject(bad), JSON.stringify(bad)).toBeNull();
  }
});

test("our key and claims under another header spelling are refused: one header, one prefix", async () => {
  const { t, alice } = await world();
  const { token } = await patFor(t, alice, []);
  const keys = (await (await t.fetch("/keyhole/jwks.json")).json()) as { keys: PublicJwk[] };
  const [h, p] = token.split(".");
  const header = dec(h) as { alg: string; kid: string; typ: string };
  const key = await importJWK(JSON.parse(process.env.KEYHOLE_SIGNING_KEY!), "ES256");
  const same = await new SignJWT(dec(p)).setProtectedHeader(header).sign(key);
  expect(await verifyKeyholeToken(same, keys.keys)).not.toBeNull(); // control: this spelling verifies
  const reordered = await new SignJWT(dec(p)).setProtectedHeader({ typ: "JWT", kid: header.kid, alg: "ES256" }).sign(key);
  expect(reordered.startsWith(h.slice(0, 10))).toBe(false);
  expect(await verifyKeyholeToken(reordered, keys.keys)).toBeNull();
  // And an oversized token is refused before any parsing.
  expect(await verifyKeyholeToken(`${h}.${base64url(new Uint8Array(4000))}.${token.split(".")[2]}`, keys.keys)).toBeNull();
});

test("the signing key must be set, valid JSON, and a private EC P-256 key", async () => {
  await world(); // the test environment, whose key afterEach puts back
  saved = process.env.KEYHOLE_SIGNING_KEY;
  delete process.env.KEYHOLE_SIGNING_KEY;
  await expect(currentSigningKey()).rejects.toThrow("KEYHOLE_SIGNING_KEY is not set");
  process.env.KEYHOLE_SIGNING_KEY = "{not json";
  await expect(currentSigningKey()).rejects.toThrow("KEYHOLE_SIGNING_KEY is not valid JSON");
  const ec = await generateKeyPair("ES256", { extractable: true });
  process.env.KEYHOLE_SIGNING_KEY = JSON.stringify(await exportJWK(ec.publicKey)); // no private part
  await expect(currentSigningKey()).rejects.toThrow("must be a private EC P-256 JWK");
  const p384 = await generateKeyPair("ES384", { extractable: true });
  process.env.KEYHOLE_SIGNING_KEY = JSON.stringify(await exportJWK(p384.privateKey));
  await expect(currentSigningKey()).rejects.toThrow("must be a private EC P-256 JWK");
  // A valid key after a bad one is loaded (a failed load is not cached).
  process.env.KEYHOLE_SIGNING_KEY = JSON.stringify(await exportJWK(ec.privateKey));
  expect((await currentSigningKey()).kid).toMatch(/^kh-[A-Za-z0-9_-]{16}$/);
});

test("the token shape is checked before any parsing: three parts, an 86-character signature, at most 4,096 characters", async () => {
  const { t, alice } = await world();
  const { token } = await patFor(t, alice, []);
  const [h, p, sig] = token.split(".");
  expect(isCanonicalKeyholeToken(token)).toBe(true); // control
  // "A" is the zero digit: any run of it is canonical base64url, so only the length decides.
  const sized = (n: number) => `${h}.${"A".repeat(n - h.length - sig.length - 2)}.${sig}`;
  expect(isCanonicalKeyholeToken(sized(4096))).toBe(true);
  expect(isCanonicalKeyholeToken(sized(4097))).toBe(false);
  expect(isCanonicalKeyholeToken(`${h}.${p}.${sig}.${sig}`)).toBe(false); // four parts
  expect(isCanonicalKeyholeToken(`${h}.${p}`)).toBe(false); // two parts
  expect(isCanonicalKeyholeToken(`${h}.${p}.${sig.slice(0, 84)}`)).toBe(false); // 84 characters: a shorter signature
  expect(isCanonicalKeyholeToken(`${h}.${p}.${sig}AA`)).toBe(false); // 88 characters: a longer one
});

test("a signing key that names P-256 but is not an EC key is refused with the key rule, not a library error", async () => {
  await world();
  saved = process.env.KEYHOLE_SIGNING_KEY;
  const ec = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(ec.privateKey);
  process.env.KEYHOLE_SIGNING_KEY = JSON.stringify({ ...jwk, kty: "OKP" });
  await expect(currentSigningKey()).rejects.toThrow("KEYHOLE_SIGNING_KEY must be a private EC P-256 JWK");
});

test("a token says when it was issued, in seconds (iat), and when it expires (exp)", async () => {
  const { t, alice } = await world();
  const before = Math.floor(Date.now() / 1000);
  const { token } = await patFor(t, alice, []);
  const after = Math.floor(Date.now() / 1000);
  const claims = dec(token.split(".")[1]) as { iat: number; exp: number };
  expect(claims.iat).toBeGreaterThanOrEqual(before);
  expect(claims.iat).toBeLessThanOrEqual(after);
  expect(claims.exp).toBeGreaterThan(claims.iat);
});
