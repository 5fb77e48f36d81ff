// The HTTP verify path (GET /api/whoami with a PAT) on the embedded backend
// writes nothing unless a use record is due, and a due use record is one
// commit of one document (the token: its last use and the activity counter,
// model/activity.ts). A request with nothing to write runs only the
// read-only query (httpInternal:authenticateRead), no mutation; a revoked
// token is refused on its next request all the same, through the mutation
// that counts and audits the failure. Counts journal records and function
// runs, not time.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBackend, type Backend } from "../../local/backend";

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
let b: Backend;
let dataDir: string;
type Any = any;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-verify-writes-"));
  b = await startBackend({ port: 0, sitePort: 0, dataDir, logger: quiet });
});
afterAll(async () => {
  await b?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A person (inserted as a sign-up leaves them) and `n` PATs created through the public mutation. */
async function pats(n: number): Promise<string[] & { identity: Any }> {
  const engine = b.engine as Any;
  const { userId, sessionId } = await engine.t.run(async (ctx: Any) => {
    const userId = await ctx.db.insert("users", { email: `w-${Date.now()}@example.test` });
    const sessionId = await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + 86_400_000 });
    return { userId, sessionId };
  });
  const identity = { issuer: b.siteUrl, subject: `${userId}|${sessionId}`, tokenIdentifier: `${b.siteUrl}|${userId}|${sessionId}` };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const { value } = await b.engine.call("mutation", "auth:createApiToken", { name: `w${i}`, scopes: [] }, { identity });
    out.push((value as { token: string }).token);
  }
  return Object.assign(out, { identity });
}

async function whoami(token: string): Promise<number> {
  const r = await fetch(`${b.siteUrl}/api/whoami`, { headers: { authorization: `Bearer ${token}` } });
  await r.arrayBuffer();
  return r.status;
}

function journalLines(): Array<{ w: Array<[string, unknown]> }> {
  return fs
    .readFileSync(path.join(dataDir, "journal.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l.slice(9)) as { w: Array<[string, unknown]> });
}

/** Counts runs of httpInternal's two credential checks (wraps their handlers). */
async function countChecks() {
  const mod = (await b.engine.loadModule("httpInternal")) as Record<string, { _handler: (...a: unknown[]) => unknown }>;
  const runs = { query: 0, mutation: 0 };
  const wrap = (name: string, which: keyof typeof runs) => {
    const fn = mod[name]!;
    const original = fn._handler;
    fn._handler = (...a: unknown[]) => {
      runs[which]++;
      return original(...a);
    };
    return () => (fn._handler = original);
  };
  const undo = [wrap("authenticateRead", "query"), wrap("authenticate", "mutation")];
  return { runs, restore: () => undo.forEach((u) => u()) };
}

test("a token's first use in a minute is one commit of one document; its next uses write nothing", async () => {
  const [a, c] = await pats(2);
  const journal = b.engine.journal!;
  const before = journal.stats.records;
  const lines = journalLines().length;
  for (let i = 0; i < 10; i++) expect(await whoami(a!)).toBe(200);
  for (let i = 0; i < 10; i++) expect(await whoami(c!)).toBe(200);
  expect(journal.stats.records - before).toBe(2);
  const written = journalLines().slice(lines);
  expect(written.map((r) => r.w.length)).toEqual([1, 1]);
  expect(written.every((r) => r.w[0]![0].endsWith("apiTokens"))).toBe(true);
});

test("a token's later uses in a minute run the read-only query and no mutation", async () => {
  const [a] = await pats(1);
  const counted = await countChecks();
  try {
    expect(await whoami(a!)).toBe(200);
    expect(counted.runs).toEqual({ query: 0, mutation: 1 }); // first use: the use record is due
    for (let i = 0; i < 10; i++) expect(await whoami(a!)).toBe(200);
    expect(counted.runs).toEqual({ query: 10, mutation: 1 });
  } finally {
    counted.restore();
  }
});

test("a used token, revoked: refused on the next request, and each refusal goes through the mutation (counted, audited)", async () => {
  const tokens = await pats(1);
  const a = tokens[0]!;
  expect(await whoami(a)).toBe(200);
  expect(await whoami(a)).toBe(200); // the read-only path is the one in use now
  const engine = b.engine as Any;
  const tokenId = JSON.parse(Buffer.from(a.split(".")[1]!, "base64url").toString()).sub.split(":")[1];
  await b.engine.call("mutation", "auth:revokeApiToken", { tokenId }, { identity: tokens.identity });
  const counted = await countChecks();
  try {
    expect(await whoami(a)).toBe(401);
    expect(await whoami(a)).toBe(401);
    expect(counted.runs.mutation).toBe(2);
  } finally {
    counted.restore();
  }
  const audited = await engine.t.run(async (ctx: Any) =>
    (await ctx.db.query("auditEvents").collect()).filter((e: Any) => e.action === "token.used_after_revoke" && e.targetId === tokenId),
  );
  expect(audited).toHaveLength(2);
});

test("a used PAT regenerated with a short grace: near the record's expiry (before the JWT's exp) the mutation decides, not a cacheable query", async () => {
  // On Convex a query that read the clock may be served from cache for ~17 s:
  // an 'ok' from the read-only query would outlive the grace end. Attacker:
  // keeps the old secret busy so its checks are on the query path.
  const tokens = await pats(1);
  const a = tokens[0]!;
  expect(await whoami(a)).toBe(200);
  expect(await whoami(a)).toBe(200); // quiet: the read-only path is in use
  const tokenId = JSON.parse(Buffer.from(a.split(".")[1]!, "base64url").toString()).sub.split(":")[1];
  await b.engine.call("mutation", "auth:regenerateApiToken", { tokenId, graceSeconds: 20 }, { identity: tokens.identity });
  const counted = await countChecks();
  try {
    expect(await whoami(a)).toBe(200); // still in its grace
    expect(counted.runs).toEqual({ query: 1, mutation: 1 }); // the query declined to answer
  } finally {
    counted.restore();
  }
});
