// The benchmark peer: Better Auth with its API-key plugin, verifying keys with
// the plugin's own verify API (auth.api.verifyApiKey). Storage is SQLite
// through better-sqlite3 when that native module is installed (it is an
// optional dependency, built from source by npm), else Better Auth's
// in-memory adapter. Nothing here is used by keyhole itself.
import { apiKey } from "@better-auth/api-key";
import { betterAuth } from "better-auth";
import { createRequire } from "node:module";

export type PeerStorage = "sqlite" | "memory";

export interface PeerAuth {
  // Better Auth's inferred types are deep; the benchmark only calls two endpoints.
  auth: any;
  storage: PeerStorage;
  /** SQLite only: the `synchronous` pragma from now on (FULL: fsync every commit, as keyhole does). */
  setSynchronous(mode: "NORMAL" | "FULL"): void;
  close(): void;
}

const require = createRequire(import.meta.url);

function loadSqlite(): (new (file: string) => { pragma(s: string): unknown; close(): void }) | null {
  try {
    return require("better-sqlite3");
  } catch {
    return null;
  }
}

const PLUGIN_OPTIONS = {
  // The benchmark hammers each key many times; Better Auth's default of 10
  // requests per day per key would turn the run into a rate-limit test.
  rateLimit: { enabled: false },
};

/** Creates the peer's auth instance with its tables migrated. */
export async function createPeerAuth(opts: { storage?: PeerStorage; dbFile?: string } = {}): Promise<PeerAuth> {
  const Database = opts.storage === "memory" ? null : loadSqlite();
  const secret = "peer-benchmark-secret-not-used-for-anything-else-0123456789";
  const baseURL = "http://127.0.0.1";
  if (Database) {
    const db = new Database(opts.dbFile ?? ":memory:");
    // The same durability trade-off a production SQLite deployment makes.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const auth = betterAuth({
      database: db as never,
      secret,
      baseURL,
      emailAndPassword: { enabled: true },
      telemetry: { enabled: false },
      logger: { disabled: true },
      plugins: [apiKey(PLUGIN_OPTIONS)],
    });
    const { getMigrations } = await import("better-auth/db/migration");
    const { runMigrations } = await getMigrations(auth.options);
    await runMigrations();
    return { auth, storage: "sqlite", setSynchronous: (m) => db.pragma(`synchronous = ${m}`), close: () => db.close() };
  }
  const { memoryAdapter } = await import("better-auth/adapters/memory");
  const tables: Record<string, unknown[]> = { user: [], session: [], account: [], verification: [], apikey: [] };
  const auth = betterAuth({
    database: memoryAdapter(tables as never),
    secret,
    baseURL,
    emailAndPassword: { enabled: true },
    telemetry: { enabled: false },
    logger: { disabled: true },
    plugins: [apiKey(PLUGIN_OPTIONS)],
  });
  return { auth, storage: "memory", setSynchronous: () => {}, close: () => {} };
}

/** Creates one user and `count` API keys for them; returns the key texts. */
export async function seedPeerKeys(peer: PeerAuth, count: number): Promise<string[]> {
  const { user } = await peer.auth.api.signUpEmail({
    body: { email: "bench@example.test", password: "peer-bench-password-1", name: "bench" },
  });
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await peer.auth.api.createApiKey({ body: { userId: user.id, name: `k${i}` } });
    keys.push(created.key as string);
  }
  return keys;
}

/** Verifies a key with the plugin's own API; returns the owner's id or null. */
export async function verifyPeerKey(peer: PeerAuth, key: string): Promise<{ userId: string; keyId: string } | null> {
  const res = await peer.auth.api.verifyApiKey({ body: { key } });
  if (!res?.valid || !res.key) return null;
  return { userId: res.key.referenceId ?? res.key.userId, keyId: res.key.id };
}
