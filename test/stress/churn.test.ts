// 50 concurrent agents create sessions, refresh them and call the backend for
// 60 s, on both surfaces (Convex functions over HTTP, the JSON HTTP API),
// while their PATs and sessions are revoked at random. Afterwards:
//  - no call made with a credential after its revocation was acknowledged
//    succeeded (a revoked PAT, a session of a revoked PAT, an ended session,
//    a rotated-away session token or refresh token);
//  - no response was a server error (5xx, or a 560 that is not one of
//    keyhole's ConvexError codes);
//  - every acknowledged write is there with its value (no lost writes).
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { rotateWith } from "../helpers/refresh";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { codeOf, ISSUERS, pool, prng, Recorder, SEED, serverErrors, signUp } from "./helpers";

const DURATION_MS = Number(process.env.STRESS_CHURN_MS ?? 60_000);
const PEOPLE = 25;
const AGENTS_PER_PERSON = 2; // 50 agents

const rec = new Recorder("churn");
let b: SpawnedBackend;

beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  if (b) {
    await b.stop();
    rec.addLogs(b.logs());
  }
  rec.save();
});

type Person = { i: number; client: ReturnType<Recorder["httpClient"]>; workspace: string; org: string; made: number };
type Pat = { token: string; tokenId: string };
type Session = { token: string; refreshToken: string; sessionId: string; parent: string };
type Call = { what: string; deps: string[]; sentAt: number; ok: boolean };

test(
  `50 agents for ${DURATION_MS / 1000} s with random revocations: nothing revoked works, no 5xx, no lost writes (seed ${SEED})`,
  async () => {
    const rand = prng(SEED);
    const now = () => performance.now();
    /** credential key → when its death was acknowledged to us */
    const dead = new Map<string, number>();
    const kill = (key: string, at: number) => {
      if (!dead.has(key)) dead.set(key, at);
    };
    const calls: Call[] = [];
    const writes = new Map<string, { workspace: string; data: unknown }>();
    let revokes = 0;

    // People with an org and a workspace each (real sign-ups).
    const people: Person[] = await pool(
      5,
      Array.from({ length: PEOPLE }, (_, i) => async () => {
        const { client } = await signUp(rec, b.url, `churn-${i}@example.test`);
        const org = `churn${i}`;
        await client.mutation(api.orgs.create, { slug: org, name: `Churn ${i}` });
        await client.mutation(api.workspaces.create, { org, slug: "main", name: "Main" });
        return { i, client, org, workspace: `${org}/main`, made: 0 };
      }),
    );

    const newPat = async (p: Person, agent: string): Promise<Pat | null> => {
      try {
        const r = await p.client.mutation(api.auth.createApiToken, {
          name: `${agent}-${p.made++}`,
          scopes: [`${p.workspace}=work:read,work:write`],
          expiresIn: 3600,
        });
        rec.secret("pat", r.token, ISSUERS.pat);
        return { token: r.token, tokenId: r.tokenId };
      } catch (e) {
        if (codeOf(e) === "rate_limited") return null;
        throw e;
      }
    };

    /** One call, logged with the credentials it depends on; returns the result or the error. */
    async function call<T>(what: string, deps: string[], fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
      const sentAt = now();
      try {
        const value = await fn();
        calls.push({ what, deps, sentAt, ok: true });
        return { ok: true, value };
      } catch (error) {
        calls.push({ what, deps, sentAt, ok: false });
        return { ok: false, error };
      }
    }
    const httpOk = async (res: Response) => {
      const text = await res.text();
      if (res.status >= 300) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, text });
      return text ? (JSON.parse(text) as unknown) : null;
    };

    const deadline = now() + DURATION_MS;
    const current = new Map<string, { person: Person; pat: Pat | null; session: Session | null }>();

    async function agent(p: Person, n: number) {
      const name = `agent-${p.i}-${n}`;
      const state = { person: p, pat: null as Pat | null, session: null as Session | null };
      current.set(name, state);
      let seq = 0;
      while (now() < deadline) {
        if (!state.pat) {
          state.pat = await newPat(p, name);
          if (!state.pat) return; // this person's creation limit: the agent retires
        }
        const pat = state.pat;
        const patKey = `pat:${pat.tokenId}`;
        if (!state.session) {
          // Alternate the two ways to mint a child session.
          const viaHttp = seq % 2 === 1;
          const r = viaHttp
            ? await call("POST /api/sessions", [patKey], async () =>
                (await httpOk(
                  await rec.fetch(`${b.siteUrl}/api/sessions`, {
                    method: "POST",
                    headers: { authorization: `Bearer ${pat.token}`, "content-type": "application/json" },
                    body: JSON.stringify({ agentId: name, ttl: 600 }),
                  }),
                )) as { token: string; refreshToken: string; sessionId: string },
              )
            : await call("auth:createSession", [patKey], () =>
                rec.httpClient(b.url, pat.token).mutation(api.auth.createSession, { agentId: name, ttl: 600 }),
              );
          seq++;
          if (!r.ok) {
            if (codeOf(r.error) === "rate_limited" || (r.error as { status?: number }).status === 429) {
              await new Promise((res) => setTimeout(res, 1000));
            } else state.pat = null; // revoked (or otherwise unusable): get a new one
            continue;
          }
          rec.secret("agent-token", r.value.token, ISSUERS.agent);
          rec.secret("agent-refresh", r.value.refreshToken, ISSUERS.agent);
          state.session = { ...r.value, parent: patKey };
        }
        const s = state.session;
        const deps = [`sess:${s.sessionId}`, s.parent];
        const agentClient = rec.httpClient(b.url, s.token);

        // A write through a Convex function, read back.
        const itemName = `${name}/c${seq++}`;
        const data = { agent: name, seq, at: Date.now() };
        const put = await call("items:put", deps, () => agentClient.mutation(api.items.put, { workspace: p.workspace, name: itemName, data }));
        if (put.ok) writes.set(`${p.workspace}|${itemName}`, { workspace: p.workspace, data });
        const got = await call("items:get", deps, () => agentClient.query(api.items.get, { workspace: p.workspace, name: itemName }));
        if (put.ok && got.ok) expect(got.value?.data).toEqual(data);

        // The HTTP API: who am I, and a write.
        await call("GET /api/whoami", deps, async () =>
          httpOk(await rec.fetch(`${b.siteUrl}/api/whoami`, { headers: { authorization: `Bearer ${s.token}` } })),
        );
        const httpName = `${name}/h${seq++}`;
        const httpData = { agent: name, seq, via: "http" };
        const hput = await call("PUT item", deps, async () =>
          httpOk(
            await rec.fetch(`${b.siteUrl}/api/workspaces/${p.org}/main/items/${encodeURIComponent(httpName)}`, {
              method: "PUT",
              headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json" },
              body: JSON.stringify({ data: httpData }),
            }),
          ),
        );
        if (hput.ok) writes.set(`${p.workspace}|${httpName}`, { workspace: p.workspace, data: httpData });

        if (!put.ok || !hput.ok) {
          // Most likely revoked under us: start over with a new session (or PAT).
          state.session = null;
          const c = codeOf((put as { error?: unknown }).error);
          if (c === "rate_limited") await new Promise((res) => setTimeout(res, 500));
          continue;
        }

        // Rotate. Every few rounds, end the session instead.
        if (seq % 9 === 0) {
          // Ending is not a use: like RFC 7009 revocation it succeeds for a session
          // that is already dead (revoked parent, ended under us) and grants nothing,
          // so it has no liveness dependencies to violate.
          const ended = await call("auth:endSession", [], () => rec.httpClient(b.url).mutation(api.auth.endSession, { token: s.token }));
          if (ended.ok) {
            kill(`sess:${s.sessionId}`, now());
            kill(`ref:${s.sessionId}`, now());
          }
          state.session = null;
          continue;
        }
        const r = await call("auth:refreshSession", [`ref:${s.sessionId}`, s.parent], () =>
          rotateWith(rec.httpClient(b.url), s.refreshToken),
        );
        if (!r.ok) {
          state.session = null;
          continue;
        }
        const at = now();
        kill(`sess:${s.sessionId}`, at);
        kill(`ref:${s.sessionId}`, at);
        rec.secret("agent-token", r.value.token, ISSUERS.agent);
        rec.secret("agent-refresh", r.value.refreshToken, ISSUERS.agent);
        state.session = { ...r.value, parent: s.parent };
        // Sometimes try the rotated-away credentials: they must fail now.
        if (rand() < 0.3) {
          await call("stale token", [`sess:${s.sessionId}`], () => agentClient.query(api.items.get, { workspace: p.workspace, name: itemName }));
        }
        if (rand() < 0.1) {
          await call("stale refresh", [`ref:${s.sessionId}`], () =>
            rotateWith(rec.httpClient(b.url), s.refreshToken),
          );
          // Replaying a used refresh token ends the family (by design): drop ours.
          state.session = null;
        }
      }
    }

    async function revoker() {
      while (now() < deadline - 2000) {
        await new Promise((r) => setTimeout(r, 250 + rand() * 1000));
        const names = [...current.keys()];
        const victim = current.get(names[Math.floor(rand() * names.length)]!);
        if (!victim) continue;
        if (rand() < 0.7 && victim.pat) {
          const pat = victim.pat;
          const r = await call("auth:revokeApiToken", [], () => victim.person.client.mutation(api.auth.revokeApiToken, { tokenId: pat.tokenId as never }));
          if (!r.ok) throw r.error;
          kill(`pat:${pat.tokenId}`, now());
          revokes++;
          // Straight after the acknowledgement, both surfaces must refuse it.
          await call("probe whoami", [`pat:${pat.tokenId}`], async () =>
            httpOk(await rec.fetch(`${b.siteUrl}/api/whoami`, { headers: { authorization: `Bearer ${pat.token}` } })),
          );
          await call("probe viewer", [`pat:${pat.tokenId}`], () => rec.httpClient(b.url, pat.token).query(api.auth.viewer, {}));
        } else if (victim.session) {
          const s = victim.session;
          const r = await call("sessions:endAgentSession", [], () =>
            victim.person.client.mutation(api.sessions.endAgentSession, { sessionId: s.sessionId as never }),
          );
          if (r.ok) {
            kill(`sess:${s.sessionId}`, now());
            kill(`ref:${s.sessionId}`, now());
            revokes++;
          }
        }
      }
    }

    await Promise.all([
      ...people.flatMap((p) => Array.from({ length: AGENTS_PER_PERSON }, (_, n) => agent(p, n))),
      revoker(),
    ]);

    // 1. Nothing dead worked after its death was acknowledged.
    const violations = calls.filter((c) => c.ok && c.deps.some((d) => dead.has(d) && c.sentAt > dead.get(d)!));
    const refusedAfterDeath = calls.filter((c) => !c.ok && c.deps.some((d) => dead.has(d) && c.sentAt > dead.get(d)!));
    expect(violations.map((v) => `${v.what} with ${v.deps.join(",")}`)).toEqual([]);

    // 2. No server errors.
    const errors = serverErrors(rec.responses);
    expect(errors.map((e) => `${e.label} ${e.status}: ${e.text.slice(0, 200)}`)).toEqual([]);

    // 3. No lost writes: every acknowledged write is there, with its value.
    const byWorkspace = new Map<string, Map<string, unknown>>();
    for (const p of people) {
      const items = new Map<string, unknown>();
      let cursor: string | null = null;
      for (;;) {
        const page: { page: Array<{ name: string; data: unknown }>; isDone: boolean; continueCursor: string } = await p.client.query(api.items.list, {
          workspace: p.workspace,
          paginationOpts: { numItems: 200, cursor },
        });
        for (const it of page.page) items.set(it.name, it.data);
        if (page.isDone) break;
        cursor = page.continueCursor;
      }
      byWorkspace.set(p.workspace, items);
    }
    const lost = [...writes.entries()].filter(([key, w]) => {
      const name = key.slice(key.indexOf("|") + 1);
      return !isDeepStrictEqual(byWorkspace.get(w.workspace)?.get(name), w.data);
    });
    expect(
      lost.map(([k, w]) => `${k}: wrote ${JSON.stringify(w.data)}, found ${JSON.stringify(byWorkspace.get(w.workspace)?.get(k.slice(k.indexOf("|") + 1)))}`),
    ).toEqual([]);

    // The run did what it claims (so the checks above are not vacuous).
    const okCalls = calls.filter((c) => c.ok).length;
    console.log(
      `[churn] seed ${SEED}: ${calls.length} calls (${okCalls} ok), ${writes.size} acknowledged writes, ${revokes} revocations, ` +
        `${refusedAfterDeath.length} calls refused after their credential died, ${rec.responses.length} responses`,
    );
    expect(revokes).toBeGreaterThanOrEqual(Math.min(10, DURATION_MS / 5000));
    expect(writes.size).toBeGreaterThan(100);
    expect(refusedAfterDeath.length).toBeGreaterThan(0);
  },
  DURATION_MS + 120_000,
);
