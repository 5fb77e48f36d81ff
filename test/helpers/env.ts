// Deterministic-enough env for convex-test unit tests: a fresh signing key per
// test process, a fixed site URL. The embedded backend generates its own.
import { exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";

export const TEST_SITE_URL = "http://127.0.0.1:3211";
export const TEST_ISSUER = "https://keyhole.invalid/test";

let ready: Promise<void> | null = null;

export function setupTestEnv(): Promise<void> {
  ready ??= (async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    process.env.CONVEX_SITE_URL = TEST_SITE_URL;
    process.env.KEYHOLE_ISSUER = TEST_ISSUER;
    process.env.SITE_URL = "http://127.0.0.1:5173";
    process.env.KEYHOLE_SIGNING_KEY = JSON.stringify(await exportJWK(privateKey));
    process.env.KEYHOLE_ENCRYPTION_KEYS = `k1:${randomBytes(32).toString("base64")}`;
  })();
  return ready;
}
