// The token activity counters (convex/model/activity.ts) must not add a
// write to every request. This replays a busy PAT — R requests spread evenly
// over M minutes — through the real authorize() (which records last use) and
// counts the documents written per request with convex-test's transaction
// metrics; then counts what a refused request writes (recordFailure: rate
// limits + audit + the refusal counter).
//
//   npx tsx bench/activity.ts [--requests 1200] [--minutes 20]
//
// Writes bench/results/activity.json.
import { convexTest } from "convex-test";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { authorizePath } from "../convex/model/authorize";
import { recordFailure } from "../convex/model/http/authn";
import schema from "../convex/schema";
import { buildModuleMap } from "../local/modules";
import { setupTestEnv, TEST_SITE_URL } from "../test/helpers/env";
import { formatTable, writeResult, type BenchRow } from "./lib/report";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const REQUESTS = arg("requests", 1200);
const MINUTES = arg("minutes", 20);

// A controlled clock for the functions (Date.now is what they read).
let clock = Date.UTC(2030, 0, 1, 9);
Date.now = () => clock;

await setupTestEnv();
const t = convexTest(schema, buildModuleMap(join(root, "convex")));
const fx = await t.run(async (ctx) => {
  const userId = await ctx.db.insert("users", { email: "bench@example.com" });
  const orgId = await ctx.db.insert("orgs", { slug: "acme", name: "Acme", createdBy: userId, createdAt: clock });
  await ctx.db.insert("memberships", { orgId, userId, role: "member", createdAt: clock });
  await ctx.db.insert("workspaces", { orgId, slug: "site", name: "Site", createdAt: clock });
  const scopes = [{ resource: "acme/site", permissions: ["work:read", "work:write"] }];
  const live = await ctx.db.insert("apiTokens", { userId, name: "busy", type: "PAT", scopes, tokenHash: "a", keyId: "k", createdAt: clock, expiresAt: clock + 30 * 86_400_000 });
  const revoked = await ctx.db.insert("apiTokens", { userId, name: "gone", type: "PAT", scopes, tokenHash: "b", keyId: "k", createdAt: clock, expiresAt: clock + 30 * 86_400_000, revokedAt: clock });
  return { live, revoked };
});
const asPat = t.withIdentity({ issuer: `${TEST_SITE_URL}/keyhole`, subject: `pat:${fx.live}` });

type Metrics = { documentsWritten: { used: number } };
const written = (before: Metrics, after: Metrics) => after.documentsWritten.used - before.documentsWritten.used;

// 1. R requests over M minutes, each a mutation's authorize() (the path that records last use).
const perRequest: number[] = [];
const step = (MINUTES * 60_000) / REQUESTS;
for (let i = 0; i < REQUESTS; i++) {
  perRequest.push(
    await asPat.run(async (ctx) => {
      const before = (await ctx.meta.getTransactionMetrics()) as Metrics;
      await authorizePath(ctx, "work:write", "acme/site", "Signal/1");
      return written(before, (await ctx.meta.getTransactionMetrics()) as Metrics);
    }),
  );
  clock += step;
}
const total = perRequest.reduce((s, n) => s + n, 0);
const withWrites = perRequest.filter((n) => n > 0).length;
// The day's count still on the token plus the rows earlier days moved to.
const activity = await t.run(async (ctx) => [
  ...(await ctx.db.query("tokenActivity").collect()),
  ...(await ctx.db.query("apiTokens").collect()).map((tk) => ({ uses: tk.usesOnDay ?? 0 })),
]);

// 2. One refused request (a revoked PAT at the HTTP layer): what recordFailure writes, counter included.
const refusedWrites = await t.run(async (ctx) => {
  const before = (await ctx.meta.getTransactionMetrics()) as Metrics;
  await recordFailure(ctx, { kind: "pat", id: fx.revoked, expired: false });
  return written(before, (await ctx.meta.getTransactionMetrics()) as Metrics);
});

const rows: BenchRow[] = [
  { benchmark: "activity", case: `${REQUESTS} PAT requests over ${MINUTES} min`, figure: `${total} documents written`, notes: `${withWrites} requests wrote (1 each: the token's last use, carrying the day counter; +1 on a token's first use of a new day); ${REQUESTS - withWrites} wrote nothing` },
  { benchmark: "activity", case: "writes per request", figure: (total / REQUESTS).toFixed(3), notes: `steady state 0; once a minute 1 (2 on a token's first use of a day)` },
  { benchmark: "activity", case: "day counter", figure: `uses=${activity.reduce((s, r) => s + r.uses, 0)}`, notes: "on the token for its last day of use, then one row per token and earlier UTC day" },
  { benchmark: "activity", case: "refused request (revoked PAT, HTTP)", figure: `${refusedWrites} documents written`, notes: "2 rate-limit windows + audit event + refusal counter (+1)" },
];
console.log(formatTable(rows));
const file = writeResult({ name: "activity", rows, data: { requests: REQUESTS, minutes: MINUTES, total, withWrites, perRequestMax: Math.max(...perRequest), refusedWrites }, params: { requests: REQUESTS, minutes: MINUTES } });
console.log(`wrote ${file}`);
