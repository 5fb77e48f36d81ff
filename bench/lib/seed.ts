// Seeds a data directory of the embedded backend for the benchmarks, in
// process (startBackend + its engine), then closes it so a real backend
// process can start on the same directory.
//
// What is real and what is not:
//  - people: inserted directly (a `users` row and a live `authSessions` row,
//    exactly what a password sign-up leaves behind minus the password hash),
//    because sign-up cost is not what these benchmarks measure;
//  - PATs: created one by one through the public `auth:createApiToken`
//    mutation as those people (real validation, signing, hashing, audit
//    event, rate limit: at most 20 per person, so tokens/20 people); or,
//    with `bulk` (100k keys in a minute or two instead of half an hour), 500
//    per transaction through the model's insertSignedPat — the row,
//    signature, hash, key id and binding that mutation stores, without its
//    per-person checks, audit event and list hint (nothing the verify path
//    reads);
//  - audit events beyond the ones token creation wrote: inserted directly in
//    batches (the `auditEvents` shape logAudit writes).
import type { Id } from "../../convex/_generated/dataModel";
import { insertSignedPat } from "../../convex/model/tokens";
import { startBackend } from "../../local/backend";

export interface SeedOptions {
  dataDir: string;
  /** The site port the backend will use later: it is part of every token's issuer. */
  sitePort: number;
  tokens: number;
  auditEvents?: number;
  tokensPerUser?: number;
  /** PATs inserted 500 per transaction through insertSignedPat (see above). */
  bulk?: boolean;
}

export interface SeededToken {
  token: string;
  tokenId: string;
  userId: string;
}

export interface SeedResult {
  tokens: SeededToken[];
  users: Array<{ userId: string; sessionId: string; email: string }>;
  auditEvents: number;
  seedMs: { users: number; tokens: number; audit: number };
}

type Any = any;

export async function seed(opts: SeedOptions): Promise<SeedResult> {
  const perUser = opts.tokensPerUser ?? 20;
  const backend = await startBackend({ dataDir: opts.dataDir, port: 0, sitePort: opts.sitePort, quiet: true });
  try {
    const engine = backend.engine as Any;
    const t0 = Date.now();
    const users = await seedUsers(engine, Math.max(1, Math.ceil(opts.tokens / perUser)));
    const t1 = Date.now();
    const tokens = opts.bulk
      ? await bulkPats(engine, users, opts.tokens, perUser)
      : await createPats(engine, backend.siteUrl, users, opts.tokens, perUser);
    const t2 = Date.now();
    await seedAudit(engine, users, tokens, opts.auditEvents ?? 0);
    const t3 = Date.now();
    return {
      tokens,
      users,
      auditEvents: engine.documentCount("auditEvents"),
      seedMs: { users: t1 - t0, tokens: t2 - t1, audit: t3 - t2 },
    };
  } finally {
    await backend.close();
  }
}

/** `count` people, each signed in once, 500 per transaction. */
async function seedUsers(engine: Any, count: number): Promise<SeedResult["users"]> {
  const users: SeedResult["users"] = [];
  for (let start = 0; start < count; start += 500) {
    const batch = await engine.t.run(async (ctx: Any) => {
      const out: SeedResult["users"] = [];
      for (let i = start; i < Math.min(count, start + 500); i++) {
        const email = `bench-${i}@example.test`;
        const userId = await ctx.db.insert("users", { email, name: `Bench ${i}` });
        const sessionId = await ctx.db.insert("authSessions", {
          userId,
          expirationTime: Date.now() + 30 * 24 * 3600_000,
        });
        out.push({ userId, sessionId, email });
      }
      return out;
    });
    users.push(...batch);
  }
  return users;
}

/** `count` PATs through the real `auth:createApiToken`, `perUser` per person. */
async function createPats(engine: Any, siteUrl: string, users: SeedResult["users"], count: number, perUser: number): Promise<SeededToken[]> {
  const tokens: SeededToken[] = new Array(count);
  // Several creations in flight at once: their commits share fsyncs (group commit).
  let next = 0;
  const create = async () => {
    for (let i = next++; i < count; i = next++) {
      const u = users[Math.floor(i / perUser)]!;
      const identity = {
        issuer: siteUrl,
        subject: `${u.userId}|${u.sessionId}`,
        tokenIdentifier: `${siteUrl}|${u.userId}|${u.sessionId}`,
      };
      const { value } = await engine.call(
        "mutation",
        "auth:createApiToken",
        { name: `bench-${i}`, scopes: [], expiresIn: 30 * 24 * 3600 },
        { identity, ip: "127.0.0.1", userAgent: "keyhole-bench-seed" },
      );
      tokens[i] = { token: value.token, tokenId: value.tokenId, userId: u.userId };
    }
  };
  await Promise.all(Array.from({ length: 16 }, create));
  return tokens;
}

/** Audit events up to `target` in all, 5,000 per transaction. */
async function seedAudit(engine: Any, users: SeedResult["users"], tokens: SeededToken[], target: number): Promise<void> {
  let audit = engine.documentCount("auditEvents") as number;
  const actions = ["token.used", "session.created", "session.refreshed", "token.created", "item.put"];
  while (audit < target) {
    const n = Math.min(5000, target - audit);
    const base = audit;
    await engine.t.run(async (ctx: Any) => {
      for (let j = 0; j < n; j++) {
        const k = base + j;
        const u = users[k % users.length]!;
        await ctx.db.insert("auditEvents", {
          userId: u.userId,
          action: actions[k % actions.length]!,
          actorKind: "pat",
          actorId: tokens.length ? tokens[k % tokens.length]!.tokenId : undefined,
          targetType: "apiToken",
          targetId: tokens.length ? tokens[k % tokens.length]!.tokenId : undefined,
          ip: "127.0.0.1",
          userAgent: "keyhole-bench-seed",
          details: `seeded event ${k}`,
          at: Date.now() - (target - k) * 1000,
        });
      }
    });
    audit += n;
  }
}

const BULK_BATCH = 500;

/** `count` PATs, `perUser` per person, BULK_BATCH per transaction (insertSignedPat, as createApiToken stores them). */
async function bulkPats(engine: Any, users: SeedResult["users"], count: number, perUser: number): Promise<SeededToken[]> {
  const tokens: SeededToken[] = [];
  const expiresAt = Math.floor((Date.now() + 30 * 24 * 3600_000) / 1000) * 1000;
  for (let start = 0; start < count; start += BULK_BATCH) {
    const batch = await engine.t.run(async (ctx: Any) => {
      const out: SeededToken[] = [];
      for (let i = start; i < Math.min(count, start + BULK_BATCH); i++) {
        const u = users[Math.floor(i / perUser)]!;
        const fields = { userId: u.userId as Id<"users">, name: `bench-${i}`, type: "PAT" as const, scopes: [], createdAt: Date.now(), expiresAt };
        const { tokenId, token } = await insertSignedPat(ctx, fields);
        out.push({ token, tokenId, userId: u.userId });
      }
      return out;
    });
    tokens.push(...batch);
  }
  return tokens;
}
