// Every acknowledged mutation survives kill -9; a torn journal tail is
// recovered from; ids are never reused, creation times and commit timestamps never go back.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { anyApi } from "convex/server";
import { afterEach, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { isCounterId } from "../../local/ids";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { passwordSignUp } from "../helpers/signup";

const started: SpawnedBackend[] = [];
afterEach(async () => {
  // Newest first: the last one owns the temp data dir.
  for (const b of started.splice(0).reverse()) await b.stop();
});

async function start() {
  const b = await spawnBackend();
  started.push(b);
  return b;
}

/** Restart on the same data dir and ports (tokens name the site URL as issuer). */
async function restart(prev: SpawnedBackend) {
  const b = await prev.respawn();
  started.push(b);
  return b;
}

async function crash(b: SpawnedBackend) {
  b.kill("SIGKILL");
  expect(await b.exited).toBe("SIGKILL");
}

async function signUp(b: SpawnedBackend) {
  return (await passwordSignUp(b, `d-${Date.now()}-${Math.random()}@example.com`)).token;
}

function snapshotDocs(dataDir: string, table: string) {
  return fs
    .readFileSync(path.join(dataDir, "snapshot.jsonl"), "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => l.startsWith("["))
    .map((l) => JSON.parse(l) as [string, Record<string, unknown>])
    .filter(([id]) => id.endsWith(table))
    .map(([, d]) => d);
}


// Each test starts one or two backend processes: far beyond 30 s on a loaded 2-core machine.
describe("durability", { timeout: 180_000 }, () => {
  test("kill -9 after N acknowledged mutations: all N are there after restart", async () => {
    const b = await start();
    const token = await signUp(b);
    const http = b.httpClient(token);
    const N = 25;
    const ids: string[] = [];
    // Sequential over HTTP...
    for (let i = 0; i < N - 5; i++) ids.push(await http.mutation(api.orgs.create, { slug: `k${i}`, name: `K ${i}` }));
    // ...and concurrent over the socket.
    const ws = b.client();
    ws.setAuth(async () => token);
    ids.push(
      ...(await Promise.all(
        [0, 1, 2, 3, 4].map((i) => ws.mutation(api.orgs.create, { slug: `w${i}`, name: `W ${i}` }) as Promise<string>),
      )),
    );
    await crash(b);

    const b2 = await restart(b);
    const mine = await b2.httpClient(token).query(api.orgs.listMine, {});
    const text = JSON.stringify(mine);
    for (let i = 0; i < N - 5; i++) expect(text).toContain(`"k${i}"`);
    for (let i = 0; i < 5; i++) expect(text).toContain(`"w${i}"`);
    expect(mine).toHaveLength(N);

    // Restored state: a new document gets a fresh (random, never reused) id and a later creation time.
    const before = snapshotDocs(b2.dataDir, "orgs");
    expect(before).toHaveLength(N);
    const maxCreation = Math.max(...before.map((d) => d._creationTime as number));
    const newId = await b2.httpClient(token).mutation(api.orgs.create, { slug: "after", name: "After" });
    expect(ids).not.toContain(newId);
    expect(before.map((d) => d._id)).not.toContain(newId);
    expect(isCounterId(newId)).toBe(false);
    await crash(b2);
    const b3 = await restart(b2);
    const after = snapshotDocs(b3.dataDir, "orgs");
    const created = after.find((d) => d._id === newId)!;
    expect(created._creationTime as number).toBeGreaterThan(maxCreation);
    expect(await b3.httpClient(token).query(api.orgs.listMine, {})).toHaveLength(N + 1);
  });

  test("commit timestamps keep increasing across restarts", async () => {
    const b = await start();
    const token = await signUp(b);
    const tsOf = async (url: string) => {
      const r = await fetch(`${url}/api/query_ts`, { method: "POST" });
      return Buffer.from(((await r.json()) as { ts: string }).ts, "base64").readBigUInt64LE();
    };
    await b.httpClient(token).mutation(api.orgs.create, { slug: "ts1", name: "T" });
    const ts1 = await tsOf(b.url);
    expect(ts1).toBeGreaterThan(0n);
    await crash(b);
    const b2 = await restart(b);
    expect(await tsOf(b2.url)).toBeGreaterThanOrEqual(ts1);
    await b2.httpClient(token).mutation(api.orgs.create, { slug: "ts2", name: "T" });
    expect(await tsOf(b2.url)).toBeGreaterThan(ts1);
  });

  test("a torn last journal record is dropped, everything before it kept", async () => {
    const b = await start();
    const token = await signUp(b);
    const http = b.httpClient(token);
    for (let i = 0; i < 5; i++) await http.mutation(api.orgs.create, { slug: `t${i}`, name: `T ${i}` });
    await crash(b);

    // Tear the last record in half, as a crash in the middle of a write would.
    const journal = path.join(b.dataDir, "journal.log");
    const buf = fs.readFileSync(journal);
    const lastStart = buf.lastIndexOf(0x0a, buf.length - 2) + 1;
    const lastRecord = buf.subarray(lastStart).toString();
    expect(lastRecord).toContain('"t4"');
    fs.truncateSync(journal, lastStart + Math.floor((buf.length - lastStart) / 2));

    const b2 = await restart(b);
    expect(b2.logs()).toMatch(/torn or corrupt record at byte \d+ .*recovered \d+ record/);
    const text = JSON.stringify(await b2.httpClient(token).query(api.orgs.listMine, {}));
    for (let i = 0; i < 4; i++) expect(text).toContain(`"t${i}"`);
    expect(text).not.toContain('"t4"');
    // It keeps working, and the next start is clean (the tail was compacted away).
    await b2.httpClient(token).mutation(api.orgs.create, { slug: "t5", name: "T 5" });
    await crash(b2);
    const b3 = await restart(b2);
    expect(b3.logs()).not.toMatch(/torn/);
    expect(JSON.stringify(await b3.httpClient(token).query(api.orgs.listMine, {}))).toContain('"t5"');
  });

  test("garbage appended to the journal (bad checksum) does not stop the start", async () => {
    const b = await start();
    const token = await signUp(b);
    await b.httpClient(token).mutation(api.orgs.create, { slug: "g0", name: "G" });
    await crash(b);
    fs.appendFileSync(path.join(b.dataDir, "journal.log"), 'deadbeef {"ts":"1","n":1,"c":1,"w":[]}\n\u0000\u0000garbage');
    const b2 = await restart(b);
    expect(b2.logs()).toMatch(/torn or corrupt record/);
    expect(JSON.stringify(await b2.httpClient(token).query(api.orgs.listMine, {}))).toContain('"g0"');
  });

  test("env.json is created once with mode 0600 and reused", async () => {
    const b = await start();
    const file = path.join(b.dataDir, "env.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const env = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    for (const k of ["JWT_PRIVATE_KEY", "JWKS", "KEYHOLE_SIGNING_KEY", "KEYHOLE_ENCRYPTION_KEYS", "KEYHOLE_ISSUER", "SITE_URL"]) {
      expect(env[k], k).toBeTruthy();
    }
    expect(env.JWT_PRIVATE_KEY).toMatch(/^-----BEGIN PRIVATE KEY----- \S/);
    expect(env.KEYHOLE_ENCRYPTION_KEYS).toMatch(/^k1:[A-Za-z0-9+/]{43}=$/);
    expect(JSON.parse(env.KEYHOLE_SIGNING_KEY!)).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(env.CONVEX_SITE_URL).toBeUndefined();
    // No secret reaches the logs.
    for (const v of Object.values(env)) if (v.length > 30) expect(b.logs().includes(v.slice(20, 60))).toBe(false);
    b.kill("SIGTERM");
    await b.exited;
    const b2 = await restart(b);
    // Same secrets (compared by digest, so a failure never prints them).
    const digest = (o: unknown) => createHash("sha256").update(JSON.stringify(o)).digest("hex");
    expect(digest(JSON.parse(fs.readFileSync(file, "utf8")))).toBe(digest(env));
    expect(b2.logs()).not.toMatch(/generated secrets/);
  });

  test("a function scheduled before kill -9 still runs after the restart", async () => {
    const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture", "convex");
    const b = await spawnBackend({
      convexDir: fixture,
      env: { FIXTURE_ES_JWKS_B64: Buffer.from('{"keys":[]}').toString("base64"), FIXTURE_RS_JWKS: '{"keys":[]}' },
    });
    started.push(b);
    const text = `after-crash-${Date.now()}`;
    await b.httpClient().mutation(anyApi.fixture.scheduleAdd, { text, delayMs: 2500 });
    await crash(b);
    const b2 = await restart(b);
    expect(b2.logs()).toMatch(/re-armed 1 scheduled function/);
    const deadline = Date.now() + 15_000;
    let texts: string[] = [];
    while (Date.now() < deadline) {
      texts = ((await b2.httpClient().query(anyApi.fixture.list, {})) as Array<{ text: string }>).map((d) => d.text);
      if (texts.includes(text)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(texts.filter((t) => t === text)).toHaveLength(1);
  });

  test("a second backend cannot open a data dir that is in use", async () => {
    const b = await start();
    await expect(spawnBackend({ dataDir: b.dataDir })).rejects.toThrow(/in use by process/);
  });
});
