/**
 * Secrets and settings the Convex functions read from `process.env`.
 *
 * The embedded backend generates them once, on first start, into
 * `<data-dir>/env.json` (mode 0600) and loads them before any function runs;
 * variables already set in the real environment win. The same generator backs
 * `npm run env:generate`, which prints `npx convex env set` lines for a real
 * deployment.
 */
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const DEFAULT_SITE_URL = "http://127.0.0.1:5173";

/** Variables that are generated (secrets) and kept in env.json. */
export const GENERATED_KEYS = [
  "JWT_PRIVATE_KEY",
  "JWKS",
  "KEYHOLE_SIGNING_KEY",
  "KEYHOLE_ENCRYPTION_KEYS",
  "KEYHOLE_ISSUER",
] as const;

export type GeneratedEnv = Record<(typeof GENERATED_KEYS)[number], string> & { SITE_URL: string };

/** Fresh secrets in the formats the functions expect. */
export async function generateEnv(): Promise<GeneratedEnv> {
  // @convex-dev/auth: RS256 key pair; the private key as PKCS8 PEM with its
  // newlines replaced by spaces (exactly what `npx @convex-dev/auth` sets;
  // jose's importPKCS8 ignores the whitespace), the public key as a JWKS.
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const pem = await exportPKCS8(rsa.privateKey);
  const publicJwk = await exportJWK(rsa.publicKey);
  // keyhole's own tokens (PATs, agent sessions): a private EC P-256 JWK.
  const ec = await generateKeyPair("ES256", { extractable: true });
  const ecJwk = await exportJWK(ec.privateKey);
  return {
    JWT_PRIVATE_KEY: pem.trimEnd().replace(/\n/g, " "),
    JWKS: JSON.stringify({ keys: [{ use: "sig", ...publicJwk }] }),
    KEYHOLE_SIGNING_KEY: JSON.stringify({ ...ecJwk, alg: "ES256" }),
    // Comma-separated `<keyId>:<base64 of 32 bytes>`; the first one encrypts.
    KEYHOLE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    // The `iss` of keyhole tokens: a name, not a place (".invalid" never
    // resolves), kept for good so a new site URL does not invalidate tokens.
    KEYHOLE_ISSUER: `https://keyhole.invalid/${randomBytes(12).toString("base64url")}`,
    SITE_URL: DEFAULT_SITE_URL,
  };
}

/**
 * Reads `<dataDir>/env.json`, creating it (0600) with fresh secrets when it is
 * missing and adding any generated key it lacks. Returns its contents.
 *
 * An env.json written before KEYHOLE_ISSUER existed gets `legacyIssuer` (the
 * `<site URL>/keyhole` its tokens carry) instead of a fresh one, so they keep
 * working; from then on it stays whatever the site URL becomes.
 */
export async function loadOrCreateEnvFile(
  dataDir: string,
  opts: { legacyIssuer?: string } = {},
): Promise<{ env: Record<string, string>; created: boolean }> {
  const file = path.join(dataDir, "env.json");
  let env: Record<string, string> = {};
  let existed = false;
  try {
    env = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    existed = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`${file} is not valid JSON; fix or delete it (${(e as Error).message})`);
    }
  }
  const missing = [...GENERATED_KEYS, "SITE_URL"].filter((k) => typeof env[k] !== "string" || env[k] === "");
  if (missing.length > 0) {
    const fresh: Record<string, string> = await generateEnv();
    if (existed && opts.legacyIssuer !== undefined) fresh.KEYHOLE_ISSUER = opts.legacyIssuer;
    for (const k of missing) env[k] = fresh[k];
    // CONVEX_SITE_URL is always derived from the actual site port.
    delete env.CONVEX_SITE_URL;
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(env, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
  try {
    fs.chmodSync(file, 0o600);
  } catch {
    /* best effort */
  }
  return { env, created: !existed };
}

/**
 * Merges the file env, the caller's env and the derived CONVEX_SITE_URL into
 * process.env. Precedence: real environment > options.env > env.json; the
 * site URL is derived unless the real environment sets it.
 */
export function applyEnv(
  fileEnv: Record<string, string>,
  overrides: Record<string, string> | undefined,
  derived: { CONVEX_SITE_URL: string },
  realEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const applied: Record<string, string> = {};
  const real = { ...realEnv };
  for (const [k, v] of Object.entries({ ...fileEnv, ...(overrides ?? {}) })) {
    if (real[k] === undefined) applied[k] = v;
  }
  if (real.CONVEX_SITE_URL === undefined && overrides?.CONVEX_SITE_URL === undefined) {
    applied.CONVEX_SITE_URL = derived.CONVEX_SITE_URL;
  }
  for (const [k, v] of Object.entries(applied)) process.env[k] = v;
  return applied;
}

/** A single-quoted shell word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `npx convex env set` lines for a real deployment (secrets included: stdout only). */
export function envSetCommands(env: Record<string, string>, opts: { prod?: boolean } = {}): string[] {
  const flag = opts.prod ? " --prod" : "";
  return Object.entries(env).map(
    ([k, v]) => `npx convex env set${flag} -- ${k} ${shellQuote(v)}`,
  );
}
