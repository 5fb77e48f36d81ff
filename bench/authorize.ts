// authorize() cost: documents read and written per call with 10, 1k, 10k and
// 100k tokens in the apiTokens table. Goal: at most 2 documents read, 0
// written, flat in N.
//
//   npx tsx bench/authorize.ts [--sizes 10,1000,10000,100000] [--quick]
//
// Runs the real authorize() on convex-test's engine (the one the embedded
// backend uses) and counts with its transaction metrics
// (`ctx.meta.getTransactionMetrics()`: documentsRead, documentsWritten,
// databaseQueries), cross-checked by a counting proxy around ctx.db. The
// table grows by direct inserts between measurements (token rows spread over
// one person per 20 tokens, as the creation limit would have it).
// Writes bench/results/authorize.json.
import { convexTest } from "convex-test";
import { dirname, join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { Id } from "../convex/_generated/dataModel";
import { authorize, resolveResource } from "../convex/model/authorize";
import { keyIdOf } from "../convex/model/keys";
import schema from "../convex/schema";
import { buildModuleMap } from "../local/modules";
import { setupTestEnv, TEST_ISSUER, TEST_SITE_URL } from "../test/helpers/env";
import { formatTable, fmt, writeResult, type BenchRow } from "./lib/report";
import { round } from "./lib/stats";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
}
// --quick (npm run bench -- --quick): stop at 10k tokens.
const SIZES = arg("sizes", process.argv.includes("--quick") ? "10,1000,10000" : "10,1000,10000,100000")
  .split(",")
  .map(Number);

type Counts = { documentsRead: number; documentsWritten: number; databaseQueries: number; dbCalls: number; us: number };

/** Wraps ctx.db so every get / query-terminal call is counted (a second, independent count). */
function counting<T extends { db: any }>(ctx: T): { ctx: T; calls: () => number } {
  let calls = 0;
  const wrapQuery = (q: any): any =>
    new Proxy(q, {
      get(target, prop) {
        const v = target[prop];
        if (typeof v !== "function") return v;
        if (["unique", "first", "collect", "take", "paginate"].includes(String(prop))) {
          return (...a: unknown[]) => {
            calls++;
            return v.apply(target, a);
          };
        }
        return (...a: unknown[]) => wrapQuery(v.apply(target, a));
      },
    });
  const db = new Proxy(ctx.db, {
    get(target, prop) {
      const v = target[prop];
      if (prop === "get") {
        return (...a: unknown[]) => {
          calls++;
          return v.apply(target, a);
        };
      }
      if (prop === "query") return (...a: unknown[]) => wrapQuery(v.apply(target, a));
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { ctx: { ...ctx, db }, calls: () => calls };
}

/** Counts what `what` reads and writes; `warm` runs first, uncounted, on the same (memoizing) ctx. */
async function measure(ctx: any, what: (ctx: any) => Promise<unknown>, warm?: (ctx: any) => Promise<unknown>): Promise<Counts> {
  const { ctx: counted, calls } = counting(ctx);
  if (warm) await warm(counted);
  const callsBefore = calls();
  const before = await ctx.meta.getTransactionMetrics();
  const t0 = performance.now();
  await what(counted);
  const us = (performance.now() - t0) * 1000;
  const after = await ctx.meta.getTransactionMetrics();
  const d = (k: string) => after[k].used - before[k].used;
  return {
    documentsRead: d("documentsRead"),
    documentsWritten: d("documentsWritten"),
    databaseQueries: d("databaseQueries"),
    dbCalls: calls() - callsBefore,
    us: round(us, 0),
  };
}

await setupTestEnv();
const t = convexTest(schema, buildModuleMap(join(root, "convex")));

// The measured callers: alice (member of acme) through a PAT, an agent
// session minted from it, and her sign-in.
const now = Date.now();
// Signed by the current key, as every token is until a rotation (a token of a
// retired key adds one read: is that key revoked?).
const currentKid = await keyIdOf(JSON.parse(process.env.KEYHOLE_SIGNING_KEY!));
const fixture = await t.run(async (ctx) => {
  const alice = await ctx.db.insert("users", { email: "alice@example.com" });
  const authSession = await ctx.db.insert("authSessions", { userId: alice, expirationTime: now + 86400_000 });
  const org = await ctx.db.insert("orgs", { slug: "acme", name: "Acme", createdBy: alice, createdAt: now });
  await ctx.db.insert("memberships", { orgId: org, userId: alice, role: "member", createdAt: now });
  await ctx.db.insert("workspaces", { orgId: org, slug: "site", name: "Site", createdAt: now });
  const scopes = [{ resource: "acme/site", permissions: ["work:read", "work:write"], allowedMatches: ["Signal/*"] }];
  const pat = await ctx.db.insert("apiTokens", {
    userId: alice,
    name: "bench",
    type: "PAT",
    scopes,
    tokenHash: "bench",
    keyId: currentKid,
    createdAt: now,
    expiresAt: now + 30 * 86400_000,
  });
  const session = await ctx.db.insert("agentSessions", {
    userId: alice,
    agentId: "bench-agent",
    familyId: "bench",
    parentTokenId: pat,
    scopes: [],
    parentScopes: scopes,
    tokenHash: "s",
    refreshHash: "r",
    createdAt: now,
    expiresAt: now + 3600_000,
    familyExpiresAt: now + 86400_000,
  });
  return { alice, authSession, pat, session };
});

const asPat = t.withIdentity({ issuer: TEST_ISSUER, subject: `pat:${fixture.pat}` });
const asAgent = t.withIdentity({ issuer: TEST_ISSUER, subject: `agent:${fixture.session}` });
const asUser = t.withIdentity({ issuer: TEST_SITE_URL, subject: `${fixture.alice}|${fixture.authSession}` });

/** Grows apiTokens to `n` rows (plus the measured one), one owner per 20 tokens. */
let count = 1;
async function growTo(n: number) {
  while (count < n) {
    const batch = Math.min(2000, n - count);
    await t.run(async (ctx) => {
      let owner: Id<"users"> | null = null;
      for (let i = 0; i < batch; i++) {
        const k = count + i;
        if (owner === null || k % 20 === 0) owner = await ctx.db.insert("users", { email: `u${k}@example.test` });
        await ctx.db.insert("apiTokens", {
          userId: owner,
          name: `t${k}`,
          type: "PAT",
          scopes: [],
          tokenHash: `h${k}`,
          keyId: "kh-bench",
          createdAt: now,
          expiresAt: now + 30 * 86400_000,
          ...(k % 10 === 0 ? { revokedAt: now } : {}),
        });
      }
    });
    count += batch;
  }
}

const cases: { name: string; run: () => Promise<Counts> }[] = [
  {
    name: "PAT, query",
    run: () =>
      asPat.query(async (ctx) => {
        const r = await resolveResource(ctx, "acme/site");
        return await measure(ctx, (c) => authorize(c, "work:read", r, "Signal/temp-1"));
      }),
  },
  {
    name: "PAT, mutation (used < 1 min ago)",
    run: () =>
      asPat.mutation(async (ctx) => {
        const r = await resolveResource(ctx, "acme/site");
        await ctx.db.patch("apiTokens", fixture.pat, { lastUsedAt: Date.now() });
        return await measure(ctx, (c) => authorize(c, "work:write", r, "Signal/temp-1"));
      }),
  },
  {
    name: "PAT, mutation (first use this minute)",
    run: () =>
      asPat.mutation(async (ctx) => {
        const r = await resolveResource(ctx, "acme/site");
        await ctx.db.patch("apiTokens", fixture.pat, { lastUsedAt: Date.now() - 120_000 });
        return await measure(ctx, (c) => authorize(c, "work:write", r, "Signal/temp-1"));
      }),
  },
  {
    name: "agent session (child of the PAT), query",
    run: () =>
      asAgent.query(async (ctx) => {
        const r = await resolveResource(ctx, "acme/site");
        return await measure(ctx, (c) => authorize(c, "work:read", r, "Signal/temp-1"));
      }),
  },
  {
    name: "person (sign-in), query",
    run: () =>
      asUser.query(async (ctx) => {
        const r = await resolveResource(ctx, "acme/site");
        return await measure(ctx, (c) => authorize(c, "work:read", r, "Signal/temp-1"));
      }),
  },
  {
    name: "PAT, 2nd authorize() in the same function",
    run: () =>
      asPat.query(async (ctx) => {
        const r = await resolveResource(ctx, "acme/site");
        return await measure(
          ctx,
          (c) => authorize(c, "work:read", r, "Signal/temp-2"),
          (c) => authorize(c, "work:read", r, "Signal/temp-1"),
        );
      }),
  },
  {
    name: "PAT, authorizePath incl. resolving org/ws",
    run: () =>
      asPat.query(async (ctx) => {
        return await measure(ctx, async (c) => {
          const r = await resolveResource(c, "acme/site");
          await authorize(c, "work:read", r, "Signal/temp-1");
        });
      }),
  },
];

type Measured = { tokens: number; case: string } & Counts;
const data: Measured[] = [];
for (const n of SIZES) {
  const g0 = performance.now();
  await growTo(n);
  process.stderr.write(`apiTokens = ${n} (grown in ${Math.round(performance.now() - g0)} ms)\n`);
  const total = await t.run(async (ctx) => (await ctx.db.query("apiTokens").collect()).length);
  if (total !== n) throw new Error(`expected ${n} tokens, found ${total}`);
  for (const c of cases) {
    // Median of 5 runs for the time; counts are identical each run (checked).
    const runs: Counts[] = [];
    await c.run(); // warm-up, not counted: a day's first use creates its activity row (model/activity.ts)
    for (let i = 0; i < 5; i++) runs.push(await c.run());
    const first = runs[0]!;
    for (const r of runs) {
      if (r.documentsRead !== first.documentsRead || r.documentsWritten !== first.documentsWritten) {
        throw new Error(`${c.name}: counts vary between runs`);
      }
    }
    const us = runs.map((r) => r.us).sort((a, b) => a - b)[2]!;
    data.push({ tokens: n, case: c.name, ...first, us });
  }
}

// One table: cases × sizes, "read/written".
const sizes = SIZES.map(fmt.n);
const lines = [`| case | ${sizes.map((s) => `${s} tokens`).join(" | ")} |`, `|---|${sizes.map(() => "---").join("|")}|`];
for (const c of cases) {
  const cells = SIZES.map((n) => {
    const m = data.find((d) => d.tokens === n && d.case === c.name)!;
    return `${m.documentsRead} read / ${m.documentsWritten} written`;
  });
  lines.push(`| ${c.name} | ${cells.join(" | ")} |`);
}
console.log("\nauthorize(): documents read / written per call (convex-test transaction metrics)\n");
console.log(lines.join("\n"));

const core = data.filter((d) => d.case === "PAT, query" || d.case === "PAT, mutation (used < 1 min ago)");
const flat = core.every((d) => d.documentsRead === core[0]!.documentsRead);
const goal = core.every((d) => d.documentsRead <= 2 && d.documentsWritten === 0);
console.log(
  `\ngoal (≤2 read, 0 written, flat in N) for a PAT call: ${goal && flat ? "met" : "NOT met"}\n` +
    `cross-check, db calls seen by the counting proxy (gets + query reads) per call: ` +
    cases.map((c) => `${c.name}: ${data.find((d) => d.case === c.name)!.dbCalls}`).join("; "),
);

const rows: BenchRow[] = SIZES.map((n) => {
  const m = data.find((d) => d.tokens === n && d.case === "PAT, query")!;
  const w = data.find((d) => d.tokens === n && d.case === "PAT, mutation (first use this minute)")!;
  return {
    benchmark: "authorize()",
    case: `${fmt.n(n)} tokens`,
    figure: `${m.documentsRead} read, ${m.documentsWritten} written`,
    notes: `mutation, first use in a minute: ${w.documentsWritten} writes (last use + day's activity counter)`,
  };
});
console.log("\n" + formatTable(rows));
const file = writeResult({
  name: "authorize",
  rows,
  data: { measurements: data, goalMet: goal && flat },
  params: { sizes: SIZES, engine: "convex-test (in-process)" },
});
console.log(`\nwrote ${relative(root, file)}`);
