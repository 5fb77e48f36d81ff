/**
 * Rotates KEYHOLE_SIGNING_KEY, the EC P-256 key that signs PATs and agent
 * session tokens.
 *
 * For hygiene (the default): new tokens are signed by the new key; the old
 * public key stays in the JWKS (`/keyhole/jwks.json`, table
 * retiredSigningKeys) until the last token it signed has expired, so
 * nobody's token breaks. (Someone holding the old private key still cannot
 * forge a token for any record: records are bound to the token signed for
 * them, convex/model/keyTrust.ts.)
 *
 * For a compromise (`--emergency`): the new key becomes KEYHOLE_SIGNING_KEY
 * and the old one is revoked at once (`keys:revokeKey`): it leaves the JWKS,
 * every token it signed is refused from the next request on, its PATs are
 * revoked (owners see it in their audit log) and its agent sessions end.
 * `--revoke-key kh-…` does the same for a key that is already retired.
 *
 * The procedure (what this script does, or prints):
 *   1. generate a new private EC P-256 JWK;
 *   2. publish its public half (`keys:publishKey`) and record the old public
 *      key as retired while it still signs (`keys:retireKey {phase: "before"}`,
 *      kept for up to 365 days + 1 day); on a deployment, wait 60 s so JWKS
 *      caches (max-age=60) hold both keys;
 *   3. make the new key KEYHOLE_SIGNING_KEY;
 *   4. finish (`keys:retireKey`): notAfter = the latest expiry of a PAT the old
 *      key signed (index by_key_expiry), at least a day (agent sessions).
 *
 * Embedded backend (stop it first: it locks its data dir):
 *   npx tsx scripts/rotate-signing-key.ts --embedded [--data-dir .keyhole] [--emergency | --revoke-key kh-…]
 *   → steps 1-4 on <data-dir>: env.json gets the new key (0600). Then `npm start`.
 *
 * A Convex deployment (`npx convex dev` / cloud / self-hosted):
 *   npx tsx scripts/rotate-signing-key.ts --deployment [--prod] [--apply] [--current-key-file FILE] [--emergency | --revoke-key kh-…]
 *   → prints the `npx convex` commands of steps 2-4 (step 3 holds the new
 *     private key: run it, don't paste it anywhere else); with --apply, runs
 *     them (waiting 65 s between steps 2 and 3).
 *     The current key comes from `npx convex env get KEYHOLE_SIGNING_KEY`
 *     unless --current-key-file names a file holding it.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { keyIdOf } from "../convex/model/keys";
import { startBackend } from "../local/backend";
import { shellQuote } from "../local/env";

const USAGE = `Usage:
  npx tsx scripts/rotate-signing-key.ts --embedded [--data-dir .keyhole] [--emergency | --revoke-key kh-…]
  npx tsx scripts/rotate-signing-key.ts --deployment [--prod] [--apply] [--current-key-file FILE] [--emergency | --revoke-key kh-…]`;

const argv = process.argv.slice(2);
const has = (f: string) => argv.includes(f);
const valueOf = (f: string) => {
  const i = argv.indexOf(f);
  return i === -1 ? undefined : argv[i + 1];
};

function fail(message: string): never {
  console.error(`rotate-signing-key: ${message}`);
  process.exit(1);
}

async function newPrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), alg: "ES256" };
}

function parsePrivateJwk(raw: string, where: string): JWK {
  let jwk: JWK;
  try {
    jwk = JSON.parse(raw) as JWK;
  } catch {
    fail(`${where} does not hold a JSON JWK`);
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y) fail(`${where} is not an EC P-256 JWK`);
  return jwk;
}

/** The public half only; this is what goes to the database. */
const publicOf = (jwk: JWK) => JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });

const iso = (ms: number) => new Date(ms).toISOString();

// --- embedded backend ---------------------------------------------------------

/** Runs `fn` against the data dir with a short-lived in-process backend, then restores process.env. */
async function withEmbedded<T>(dataDir: string, fn: (run: (path: string, args: Record<string, unknown>) => Promise<any>) => Promise<T>) {
  const saved = { ...process.env };
  const backend = await startBackend({ dataDir, port: 0, sitePort: 0, quiet: true });
  try {
    return await fn((p, args) => backend.engine.runInternal(p, args as never));
  } finally {
    await backend.close();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

type RevokeResult = { keyId: string; tokensRevoked: number; sessionsEnded: number; more: boolean };

function reportRevoked(r: RevokeResult) {
  console.log(
    `${r.keyId} revoked: out of /keyhole/jwks.json and refused from now on; ${r.tokensRevoked} PAT(s) revoked, ` +
      `${r.sessionsEnded} agent session(s) ended${r.more ? " (the rest continue in scheduled batches)" : ""}`,
  );
}

/** Runs `fn` on the embedded backend, explaining a locked data dir. */
async function onEmbedded<T>(dataDir: string, fn: (run: (path: string, args: Record<string, unknown>) => Promise<any>) => Promise<T>) {
  return await withEmbedded(dataDir, fn).catch((e: Error) =>
    fail(/lock|LOCK|in use|running/i.test(e.message) ? `the backend is running on ${dataDir}: stop it first (${e.message})` : e.message),
  );
}

async function rotateEmbedded(dataDir: string) {
  if (process.env.KEYHOLE_SIGNING_KEY) {
    fail("KEYHOLE_SIGNING_KEY is set in this shell and would override env.json: unset it first");
  }
  const envFile = path.join(dataDir, "env.json");
  if (!fs.existsSync(envFile)) fail(`${envFile} not found: start the backend once (npm start) so it generates its keys`);
  const env = JSON.parse(fs.readFileSync(envFile, "utf8")) as Record<string, string>;
  if (!env.KEYHOLE_SIGNING_KEY) fail(`${envFile} has no KEYHOLE_SIGNING_KEY`);
  const revokeId = valueOf("--revoke-key");
  if (revokeId !== undefined) {
    reportRevoked(await onEmbedded(dataDir, (run) => run("keys:revokeKey", { keyId: revokeId, reason: "revoked by operator" })));
    return;
  }
  const emergency = has("--emergency");
  const oldJwk = parsePrivateJwk(env.KEYHOLE_SIGNING_KEY, envFile);
  const newJwk = await newPrivateJwk();
  const [oldKid, newKid] = [await keyIdOf(oldJwk), await keyIdOf(newJwk)];

  // 2. Record the old public key while it is still the signing key (hygiene only).
  if (!emergency) {
    const before = await onEmbedded(dataDir, (run) => run("keys:retireKey", { publicJwk: publicOf(oldJwk), phase: "before" }));
    console.log(`recorded ${oldKid} as retired (provisionally until ${iso(before.notAfter)})`);
  }

  // 3. The new key becomes KEYHOLE_SIGNING_KEY (atomic replace, 0600).
  const tmp = `${envFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ ...env, KEYHOLE_SIGNING_KEY: JSON.stringify(newJwk) }, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, envFile);
  console.log(`${envFile}: KEYHOLE_SIGNING_KEY is now ${newKid}`);

  if (emergency) {
    // 4'. Stop trusting the old key at once.
    const r = await onEmbedded(dataDir, (run) => run("keys:revokeKey", { publicJwk: publicOf(oldJwk), reason: "emergency rotation" }));
    reportRevoked(r);
    console.log("done: start the backend again (npm start); the owners of revoked PATs must create new ones.");
    return;
  }
  // 4. Finish: keep the old key exactly as long as its last token lives.
  const after = await onEmbedded(dataDir, (run) => run("keys:retireKey", { publicJwk: publicOf(oldJwk) }));
  console.log(
    `${oldKid} stays in /keyhole/jwks.json until ${iso(after.notAfter)}` +
      (after.latestTokenExpiry ? ` (its last PAT expires ${iso(after.latestTokenExpiry)})` : " (it signed no PAT)"),
  );
  console.log("done: start the backend again (npm start); new tokens are signed by the new key.");
}

// --- a Convex deployment -------------------------------------------------------

function npx(args: string[], opts: { capture?: boolean } = {}): string {
  const r = spawnSync("npx", args, { encoding: "utf8", stdio: opts.capture ? ["ignore", "pipe", "inherit"] : "inherit" });
  if (r.status !== 0) fail(`npx ${args.slice(0, 3).join(" ")} … failed (exit ${r.status})`);
  return r.stdout ?? "";
}

async function rotateDeployment() {
  const prod = has("--prod") ? ["--prod"] : [];
  const revokeId = valueOf("--revoke-key");
  if (revokeId !== undefined) {
    const revoke = ["convex", "run", ...prod, "keys:revokeKey", JSON.stringify({ keyId: revokeId, reason: "revoked by operator" })];
    if (!has("--apply")) console.log(`npx ${revoke.map(shellQuote).join(" ")}`);
    else npx(revoke);
    return;
  }
  const keyFile = valueOf("--current-key-file");
  const raw = keyFile
    ? fs.readFileSync(keyFile, "utf8").trim()
    : npx(["convex", "env", "get", ...prod, "KEYHOLE_SIGNING_KEY"], { capture: true }).trim();
  const oldJwk = parsePrivateJwk(raw, keyFile ?? "KEYHOLE_SIGNING_KEY");
  const newJwk = await newPrivateJwk();
  const [oldKid, newKid] = [await keyIdOf(oldJwk), await keyIdOf(newJwk)];
  const publish = ["convex", "run", ...prod, "keys:publishKey", JSON.stringify({ publicJwk: publicOf(newJwk) })];
  const before = ["convex", "run", ...prod, "keys:retireKey", JSON.stringify({ publicJwk: publicOf(oldJwk), phase: "before" })];
  const set = ["convex", "env", "set", ...prod, "--", "KEYHOLE_SIGNING_KEY", JSON.stringify(newJwk)];
  const after = ["convex", "run", ...prod, "keys:retireKey", JSON.stringify({ publicJwk: publicOf(oldJwk) })];
  const revoke = ["convex", "run", ...prod, "keys:revokeKey", JSON.stringify({ publicJwk: publicOf(oldJwk), reason: "emergency rotation" })];
  const line = (args: string[]) => `npx ${args.map(shellQuote).join(" ")}`;

  if (has("--emergency")) {
    if (!has("--apply")) {
      console.log(`# EMERGENCY: replace ${oldKid} by ${newKid} and stop trusting ${oldKid} now. Run these in order:`);
      console.log(`# 1. publish the new public key`);
      console.log(line(publish));
      console.log(`# 2. switch the signing key at once (this line holds the new PRIVATE key)`);
      console.log(line(set));
      console.log(`# 3. revoke the old key: out of the JWKS, its tokens refused, its PATs revoked`);
      console.log(line(revoke));
      return;
    }
    npx(publish);
    npx(set);
    npx(revoke);
    console.log(`rotated ${oldKid} → ${newKid}; ${oldKid} revoked`);
    return;
  }
  if (!has("--apply")) {
    console.log(`# Rotate KEYHOLE_SIGNING_KEY ${oldKid} → ${newKid}. Run these in order:`);
    console.log(`# 1. publish the new public key, and keep the old one in the JWKS while it still signs`);
    console.log(line(publish));
    console.log(line(before));
    console.log(`# 2. wait at least 60 s (JWKS caches), then switch the signing key (this line holds the new PRIVATE key)`);
    console.log(line(set));
    console.log(`# 3. keep the old key exactly until its last token expires`);
    console.log(line(after));
    return;
  }
  npx(publish);
  npx(before);
  console.log("waiting 65 s for JWKS caches to pick up the new key…");
  await new Promise((r) => setTimeout(r, 65_000));
  npx(set);
  npx(after);
  console.log(`rotated ${oldKid} → ${newKid}`);
}

if (has("--embedded")) await rotateEmbedded(path.resolve(valueOf("--data-dir") ?? process.env.KEYHOLE_DATA_DIR ?? ".keyhole"));
else if (has("--deployment")) await rotateDeployment();
else fail(`choose --embedded or --deployment\n${USAGE}`);
process.exit(0);
