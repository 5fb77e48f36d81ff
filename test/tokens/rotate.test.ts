// scripts/rotate-signing-key.ts --embedded against a real embedded backend:
// after rotation, an old PAT still works, new PATs are signed by the new key,
// and the JWKS serves both keys; the script refuses to run on a live backend.
// Then the attacker holding the retired key: a token they sign for a PAT
// created after the rotation is refused (by the official client and the
// HTTP API); and --emergency stops trusting a key at once.
// The tests run in order on one data dir.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { importJWK, SignJWT, type JWK } from "jose";
import { afterAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { passwordSignUp } from "../helpers/signup";

const run = promisify(execFile);
const root = path.resolve(__dirname, "..", "..");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-rotate-"));
let live: SpawnedBackend | null = null;

afterAll(async () => {
  await live?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const kidOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString()).kid as string;

function rotate(...flags: string[]) {
  const env = { ...process.env };
  for (const k of ["CONVEX_SITE_URL", "SITE_URL", "KEYHOLE_SIGNING_KEY", "KEYHOLE_ENCRYPTION_KEYS", "JWT_PRIVATE_KEY", "JWKS", "KEYHOLE_ISSUER"]) {
    delete env[k];
  }
  return run(process.execPath, ["--import", "tsx", "scripts/rotate-signing-key.ts", "--embedded", "--data-dir", dataDir, ...flags], {
    cwd: root,
    env,
  });
}

const readEnv = () => JSON.parse(fs.readFileSync(path.join(dataDir, "env.json"), "utf8")) as Record<string, string>;

// Shared by the tests below, in order.
let signIn = "";
let keyBeforeRotation: JWK;
let old: { token: string; tokenId: string };
let fresh: { token: string; tokenId: string };

/** A keyhole token for PAT `id`, signed by `jwk` exactly as the backend would sign one (minus the binding). */
async function forge(jwk: JWK, id: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({ kind: "pat" })
    .setProtectedHeader({ alg: "ES256", kid: kidOfJwk(jwk), typ: "JWT" })
    .setSubject(`pat:${id}`)
    .setJti(id)
    .setIssuer(readEnv().KEYHOLE_ISSUER)
    .setAudience("keyhole")
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(await importJWK(jwk, "ES256"));
}
const kids = new Map<JWK, string>();
const kidOfJwk = (jwk: JWK) => kids.get(jwk)!;

async function refusedEverywhere(token: string) {
  await expect(live!.httpClient(token).query(api.auth.viewer, {})).rejects.toThrow();
  const r = await fetch(`${live!.siteUrl}/api/whoami`, { headers: { Authorization: `Bearer ${token}` } });
  expect(r.status).toBe(401);
}

test("rotating the embedded backend's signing key keeps old tokens valid", { timeout: 120_000 }, async () => {
  live = await spawnBackend({ dataDir });
  const res = { tokens: await passwordSignUp(live, "rot@example.com") };
  signIn = res.tokens.token;
  keyBeforeRotation = JSON.parse(readEnv().KEYHOLE_SIGNING_KEY) as JWK;
  const person = live.httpClient(res.tokens.token);
  old = await person.mutation(api.auth.createApiToken, { name: "old", scopes: [], expiresIn: 7 * 86400 });
  expect(await live.httpClient(old.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: old.tokenId });

  // A running backend holds the data dir: the script refuses.
  await expect(rotate()).rejects.toThrow(/in use|stop it first/);

  await live.stop();
  const { stdout } = await rotate();
  expect(stdout).toMatch(/stays in \/keyhole\/jwks.json until/);
  expect(stdout).not.toMatch(/"d":/); // no private key material printed
  const env = JSON.parse(fs.readFileSync(path.join(dataDir, "env.json"), "utf8"));
  expect(fs.statSync(path.join(dataDir, "env.json")).mode & 0o777).toBe(0o600);

  live = await live.respawn();
  // The old token still works; new ones carry the new kid; JWKS has both.
  expect(await live.httpClient(old.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: old.tokenId });
  fresh = await live.httpClient(res.tokens.token).mutation(api.auth.createApiToken, { name: "new", scopes: [] });
  expect(kidOf(fresh.token)).not.toBe(kidOf(old.token));
  const jwks = (await (await fetch(`${live.siteUrl}/keyhole/jwks.json`)).json()) as { keys: { kid: string }[] };
  expect(jwks.keys.map((k) => k.kid)).toEqual([kidOf(fresh.token), kidOf(old.token)]);
  expect(JSON.parse(env.KEYHOLE_SIGNING_KEY).d).toBeTruthy();
  expect(await live.httpClient(fresh.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: fresh.tokenId });
});

test("a token signed with the retired key for a PAT created after the rotation is refused", { timeout: 60_000 }, async () => {
  kids.set(keyBeforeRotation, kidOf(old.token));
  // The retired key is still in the JWKS (the old PAT lives a week), so the
  // signature checks out; the record is bound to the token the backend signed.
  const forgedNew = await forge(keyBeforeRotation, fresh.tokenId);
  await refusedEverywhere(forgedNew);
  // Nor for the PAT the old key did sign: the attacker lacks its binding.
  await refusedEverywhere(await forge(keyBeforeRotation, old.tokenId));
  // The real tokens are fine.
  expect(await live!.httpClient(old.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: old.tokenId });
  expect(await live!.httpClient(fresh.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: fresh.tokenId });
});

test("--emergency: the compromised key is refused at once and leaves the JWKS; older retired keys are unaffected", { timeout: 120_000 }, async () => {
  const compromised = JSON.parse(readEnv().KEYHOLE_SIGNING_KEY) as JWK; // signed `fresh`
  kids.set(compromised, kidOf(fresh.token));
  await live!.stop();
  const { stdout } = await rotate("--emergency");
  expect(stdout).toMatch(/revoked: out of \/keyhole\/jwks.json and refused from now on; 1 PAT\(s\) revoked/);
  expect(stdout).not.toMatch(/"d":/);
  live = await live!.respawn();

  // Out of the JWKS: the token no longer even verifies (and its record is revoked).
  await refusedEverywhere(fresh.token);
  await refusedEverywhere(await forge(compromised, fresh.tokenId));
  // The PAT of the key retired for hygiene still works; a new PAT (third key) works.
  expect(await live.httpClient(old.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: old.tokenId });
  const third = await live.httpClient(signIn).mutation(api.auth.createApiToken, { name: "third", scopes: [] });
  expect(await live.httpClient(third.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: third.tokenId });
  const jwks = (await (await fetch(`${live.siteUrl}/keyhole/jwks.json`)).json()) as { keys: { kid: string }[] };
  expect(jwks.keys.map((k) => k.kid)).toEqual([kidOf(third.token), kidOf(old.token)]);
});
