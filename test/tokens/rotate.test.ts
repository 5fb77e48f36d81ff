// scripts/rotate-signing-key.ts --embedded against a real embedded backend:
// after rotation, an old PAT still works, new PATs are signed by the new key,
// and the JWKS serves both keys; the script refuses to run on a live backend.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
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

function rotate() {
  const env = { ...process.env };
  for (const k of ["CONVEX_SITE_URL", "SITE_URL", "KEYHOLE_SIGNING_KEY", "KEYHOLE_ENCRYPTION_KEYS", "JWT_PRIVATE_KEY", "JWKS"]) {
    delete env[k];
  }
  return run(process.execPath, ["--import", "tsx", "scripts/rotate-signing-key.ts", "--embedded", "--data-dir", dataDir], {
    cwd: root,
    env,
  });
}

test("rotating the embedded backend's signing key keeps old tokens valid", async () => {
  live = await spawnBackend({ dataDir });
  const res = { tokens: await passwordSignUp(live, "rot@example.com") };
  const person = live.httpClient(res.tokens.token);
  const old = await person.mutation(api.auth.createApiToken, { name: "old", scopes: [], expiresIn: 7 * 86400 });
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
  const fresh = await live.httpClient(res.tokens.token).mutation(api.auth.createApiToken, { name: "new", scopes: [] });
  expect(kidOf(fresh.token)).not.toBe(kidOf(old.token));
  const jwks = (await (await fetch(`${live.siteUrl}/keyhole/jwks.json`)).json()) as { keys: { kid: string }[] };
  expect(jwks.keys.map((k) => k.kid)).toEqual([kidOf(fresh.token), kidOf(old.token)]);
  expect(JSON.parse(env.KEYHOLE_SIGNING_KEY).d).toBeTruthy();
  expect(await live.httpClient(fresh.token).query(api.auth.viewer, {})).toMatchObject({ tokenId: fresh.tokenId });
});
