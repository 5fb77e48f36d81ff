// The verifier remembers a verified token, but never past what a fresh check
// would accept: not after the token expires, not after its key leaves the key
// set, never for another spelling of the token. Counts signature checks.
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterEach, beforeAll, expect, test, vi } from "vitest";
import { IdentityVerifier } from "../../local/identity";

const ISSUER = "https://issuer.test";
const JWKS_URL = "https://issuer.test/jwks";
let keyA: { privateKey: CryptoKey; jwk: JWK };
let keyB: { privateKey: CryptoKey; jwk: JWK };

beforeAll(async () => {
  const a = await generateKeyPair("ES256", { extractable: true });
  const b = await generateKeyPair("ES256", { extractable: true });
  keyA = { privateKey: a.privateKey, jwk: { ...(await exportJWK(a.publicKey)), kid: "a", alg: "ES256" } };
  keyB = { privateKey: b.privateKey, jwk: { ...(await exportJWK(b.publicKey)), kid: "b", alg: "ES256" } };
});
afterEach(() => vi.useRealTimers());

function verifierServing(keys: () => JWK[]) {
  let fetches = 0;
  const v = new IdentityVerifier([{ type: "customJwt", issuer: ISSUER, jwks: JWKS_URL, algorithm: "ES256" }], async () => {
    fetches++;
    return { status: 200, text: JSON.stringify({ keys: keys() }) };
  });
  return { v, fetches: () => fetches };
}

async function token(key: { privateKey: CryptoKey; jwk: JWK }, expSeconds: number) {
  return await new SignJWT({ email: "a@example.test" })
    .setProtectedHeader({ alg: "ES256", kid: key.jwk.kid! })
    .setIssuer(ISSUER)
    .setSubject("user-1")
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
    .sign(key.privateKey);
}

test("the same token verified many times costs one signature check; callers get their own copy", async () => {
  const { v } = verifierServing(() => [keyA.jwk]);
  const t = await token(keyA, 3600);
  const first = await v.verify(t);
  (first.identity as Record<string, unknown>).subject = "tampered";
  for (let i = 0; i < 9; i++) expect((await v.verify(t)).identity.subject).toBe("user-1");
  expect(v.stats.signatureChecks).toBe(1);
  // Another token is checked on its own.
  await v.verify(await token(keyA, 3600));
  expect(v.stats.signatureChecks).toBe(2);
});

test("an expired token is refused even though it was verified before", async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  const { v } = verifierServing(() => [keyA.jwk]);
  const t = await token(keyA, 30);
  await v.verify(t);
  vi.setSystemTime(Date.now() + 31_000);
  await expect(v.verify(t)).rejects.toThrow(/expired/i);
});

test("a token whose key left the key set is refused once the key set is refetched", async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  let keys = [keyA.jwk, keyB.jwk];
  const { v, fetches } = verifierServing(() => keys);
  const t = await token(keyB, 3600);
  await v.verify(t);
  keys = [keyA.jwk]; // key b retired
  vi.setSystemTime(Date.now() + 61_000); // past the key set's cache time
  await expect(v.verify(t)).rejects.toThrow();
  expect(fetches()).toBe(2);
});

test("a different spelling of a verified token is checked, and refused", async () => {
  const { v } = verifierServing(() => [keyA.jwk]);
  const t = await token(keyA, 3600);
  await v.verify(t);
  const [h, p, s] = t.split(".");
  const flipped = s!.slice(0, -1) + (s!.endsWith("A") ? "B" : "A");
  await expect(v.verify(`${h}.${p}.${flipped}`)).rejects.toThrow();
  await expect(v.verify(`${h}.${p}.${s}x`)).rejects.toThrow();
});
