// Shared setup for the HTTP API and MCP end-to-end tests: a spawned embedded
// backend, password sign-up (test/helpers/signup.ts), fetch wrappers, and keyhole JWTs signed with the
// backend's own key (for "unknown" and "expired" tokens no API would mint).
import fs from "node:fs";
import path from "node:path";
import { importJWK, SignJWT, type JWK } from "jose";
import { keyIdOf } from "../../convex/model/keys";
import type { SpawnedBackend } from "../helpers/backend";
import { passwordSignUp } from "../helpers/signup";

/** Signs up through @convex-dev/auth's password provider; returns the sign-in JWT. */
export async function signUp(b: SpawnedBackend, email: string): Promise<string> {
  return (await passwordSignUp(b, email)).token;
}

export type Reply = { status: number; headers: Headers; text: string; json: any };

/** fetch against the backend's site URL. `body` objects are sent as JSON. */
export async function call(
  b: SpawnedBackend,
  method: string,
  urlPath: string,
  opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await fetch(`${b.siteUrl}${urlPath}`, { method, headers, body });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The env the backend generated for its functions (signing key, SITE_URL, ...). */
export function backendEnv(b: SpawnedBackend): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(b.dataDir, "env.json"), "utf8")) as Record<string, string>;
}

/**
 * A keyhole token signed with the backend's own signing key, for any subject
 * and expiry: lets a test present an expired token, or one for a record that
 * does not exist, exactly as an attacker holding an old token would.
 */
export async function signWithBackendKey(
  b: SpawnedBackend,
  claims: { kind: "pat" | "agent"; id: string; exp: number },
): Promise<string> {
  const jwk = JSON.parse(backendEnv(b).KEYHOLE_SIGNING_KEY) as JWK;
  const kid = await keyIdOf(jwk);
  const key = await importJWK(jwk, "ES256");
  return await new SignJWT({ kind: claims.kind })
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setSubject(`${claims.kind}:${claims.id}`)
    .setJti(claims.id)
    .setIssuer(backendEnv(b).KEYHOLE_ISSUER)
    .setAudience("keyhole")
    .setIssuedAt(claims.exp - 3600)
    .setExpirationTime(claims.exp)
    .sign(key);
}

/** A token with the right shape and header, signed by a key that is not the backend's. */
export async function forgeToken(b: SpawnedBackend, id: string): Promise<string> {
  const { generateKeyPair } = await import("jose");
  const { privateKey } = await generateKeyPair("ES256");
  const realKid = await keyIdOf(JSON.parse(backendEnv(b).KEYHOLE_SIGNING_KEY) as JWK);
  return await new SignJWT({ kind: "pat" })
    .setProtectedHeader({ alg: "ES256", kid: realKid, typ: "JWT" })
    .setSubject(`pat:${id}`)
    .setJti(id)
    .setIssuer(backendEnv(b).KEYHOLE_ISSUER)
    .setAudience("keyhole")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
}
