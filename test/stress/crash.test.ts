// kill -9 of the embedded backend under write load, then a restart on the same
// data: every write that was acknowledged before the kill is there (items,
// PATs, agent sessions), no token is duplicated, and the restarted backend
// accepts the acknowledged credentials. Three crash cycles.
import { afterAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { freePort } from "../../bench/lib/ports";
import { ISSUERS, pool, Recorder, signUp } from "./helpers";

const CYCLES = 3;
const WRITERS = 12;
const LOAD_MS = 4_000;

const rec = new Recorder("crash");
const backends: SpawnedBackend[] = [];

afterAll(async () => {
  for (const b of backends) {
    await b.stop().catch(() => {});
    rec.addLogs(b.logs());
  }
  rec.save();
});

test("kill -9 under write load, restart: every acknowledged write is present, no duplicated token", async () => {
  // A fixed site port: it is part of every token's issuer, so the restarted
  // backend must serve the same origin for old tokens to stay valid.
  const sitePort = await freePort();
  let b = await spawnBackend({ sitePort });
  backends.push(b);
  const dataDir = b.dataDir;

  const PEOPLE = 6;
  const people = await pool(
    3,
    Array.from({ length: PEOPLE }, (_, i) => async () => {
      const { client, token } = await signUp(rec, b.url, `crash-${i}@example.test`);
      await client.mutation(api.orgs.create, { slug: `crash${i}`, name: `Crash ${i}` });
      await client.mutation(api.workspaces.create, { org: `crash${i}`, slug: "main", name: "Main" });
      return { i, token, workspace: `crash${i}/main` };
    }),
  );
  // Sign-in tokens stay valid across restarts too (same keys in env.json).
  const tokensOf = new Map(people.map((p) => [p.i, p.token]));
  const patAttempts = new Map<number, number>();

  const ackItems = new Map<string, { workspace: string; data: unknown }>();
  const ackPats = new Map<string, { owner: number; token: string; name: string }>();
  const ackSessions = new Map<string, { owner: number; token: string; refreshToken: string }>();
  let patNames = 0;

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const personClient = (i: number) => rec.httpClient(b.url, tokensOf.get(i));
    let stop = false;
    const writer = async (w: number) => {
      const p = people[w % PEOPLE]!;
      const c = personClient(p.i);
      for (let n = 0; !stop; n++) {
        try {
          if (n % 10 === 3 && w < PEOPLE) {
            // A PAT now and then (creation is limited to 20 an hour per person).
            const name = `crash-${cycle}-${w}-${patNames++}`;
            patAttempts.set(p.i, (patAttempts.get(p.i) ?? 0) + 1);
            const r = await c.mutation(api.auth.createApiToken, { name, scopes: [`${p.workspace}=work:read`] });
            rec.secret("pat", r.token, ISSUERS.pat);
            ackPats.set(r.tokenId, { owner: p.i, token: r.token, name });
          } else if (n % 10 === 6) {
            const r = await c.mutation(api.auth.createSession, { agentId: `crash-${w}`, ttl: 3600 });
            rec.secret("agent-token", r.token, ISSUERS.agent);
            rec.secret("agent-refresh", r.refreshToken, ISSUERS.agent);
            ackSessions.set(r.sessionId, { owner: p.i, token: r.token, refreshToken: r.refreshToken });
          } else {
            const name = `w${w}/c${cycle}/n${n}`;
            const data = { w, cycle, n, pad: "x".repeat(64) };
            await c.mutation(api.items.put, { workspace: p.workspace, name, data });
            ackItems.set(`${p.workspace}|${name}`, { workspace: p.workspace, data });
          }
        } catch {
          // Unacknowledged (the backend died under it, or a limit): not counted.
          if (stop) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const running = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, LOAD_MS));
    const before = ackItems.size + ackPats.size + ackSessions.size;
    b.kill("SIGKILL");
    expect(await b.exited).toBe("SIGKILL");
    stop = true;
    await Promise.all(running);
    rec.addLogs(b.logs());
    expect(before).toBeGreaterThan(20); // the load really was running

    b = await spawnBackend({ dataDir, sitePort });
    backends.push(b);

    // Every acknowledged item, with its value.
    for (const p of people) {
      const c = personClient(p.i);
      const found = new Map<string, unknown>();
      let cursor: string | null = null;
      for (;;) {
        const page: { page: Array<{ name: string; data: unknown }>; isDone: boolean; continueCursor: string } = await c.query(api.items.list, {
          workspace: p.workspace,
          paginationOpts: { numItems: 250, cursor },
        });
        for (const it of page.page) {
          expect(found.has(it.name)).toBe(false); // no item twice
          found.set(it.name, it.data);
        }
        if (page.isDone) break;
        cursor = page.continueCursor;
      }
      for (const [key, w] of ackItems) {
        if (w.workspace !== p.workspace) continue;
        expect(found.get(key.slice(key.indexOf("|") + 1)), `item ${key} after crash ${cycle + 1}`).toEqual(w.data);
      }

      // PATs: each acknowledged one listed exactly once and accepted; no id or name twice.
      const { tokens } = await c.query(api.auth.listApiTokens, { status: "all" });
      const ids = tokens.map((t) => t._id);
      expect(new Set(ids).size).toBe(ids.length);
      const activeNames = tokens.filter((t) => t.status === "active").map((t) => t.name);
      expect(new Set(activeNames).size).toBe(activeNames.length);
      // Never more records than creations were attempted (a replayed commit would add one).
      expect(tokens.length).toBeLessThanOrEqual(patAttempts.get(p.i) ?? 0);
      for (const [id, t] of ackPats) {
        if (t.owner !== p.i) continue;
        expect(ids.filter((x) => x === id)).toHaveLength(1);
      }

      // Agent sessions: each acknowledged one present once.
      const sessions = await c.query(api.sessions.listAgentSessions, {});
      const sids = sessions.map((s) => s._id);
      expect(new Set(sids).size).toBe(sids.length);
      for (const [id, s] of ackSessions) {
        if (s.owner !== p.i) continue;
        expect(sids, `session ${id} after crash ${cycle + 1}`).toContain(id);
      }
    }
    // The acknowledged credentials still work on the restarted backend.
    for (const t of [...ackPats.values()].slice(-5)) {
      const res = await rec.fetch(`${b.siteUrl}/api/whoami`, { headers: { authorization: `Bearer ${t.token}` } });
      expect(res.status).toBe(200);
      await res.text();
    }
    for (const s of [...ackSessions.values()].slice(-5)) {
      const v = await rec.httpClient(b.url).query(api.auth.validateSession, { token: s.token });
      expect(v.valid).toBe(true);
    }
  }
  console.log(`[crash] ${CYCLES} kill -9 cycles: ${ackItems.size} items, ${ackPats.size} PATs, ${ackSessions.size} sessions acknowledged and found`);
  expect(ackPats.size).toBeGreaterThan(0);
  expect(ackSessions.size).toBeGreaterThan(0);
});
