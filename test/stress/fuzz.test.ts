// Fuzz every public Convex function and every HTTP route with malformed input
// (fast-check), as every kind of caller: no crash, no 5xx, and the backend
// keeps serving. Functions and routes are discovered, not listed by hand:
// every public export of convex/*.ts, every route of convex/http.ts (with the
// sub-routes of the /api/ and /oauth/ prefixes), the Convex API port's own
// endpoints, the MCP endpoint's JSON-RPC methods and tools, and the sync
// WebSocket.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { setupTestEnv } from "../helpers/env";
import { anyJson, fromValidator, leaf, realize, text, type Validator } from "./arbitraries";
import { ISSUERS, prng, Recorder, SEED, serverErrors, signUp, type Captured } from "./helpers";

const RUNS_PER_FUNCTION = Number(process.env.STRESS_FUZZ_RUNS ?? 30);
const RUNS_PER_ROUTE = Number(process.env.STRESS_FUZZ_ROUTE_RUNS ?? 40);

const rec = new Recorder("fuzz");
let b: SpawnedBackend;
let exitedEarly: string | number | null = null;

/**
 * Callers: anonymous, a signed-in person, a PAT, an MCP-type PAT, an agent
 * session, a revoked PAT. Fuzzing uses them up (it signs out, revokes by name,
 * reports tokens as leaked…), so each test starts with a fresh set.
 */
const callers: Record<string, string | null> = { anonymous: null };
/** Real values the fuzzer mixes in (ids and names that exist). */
const known: string[] = [];
let people = 0;

async function freshCallers(): Promise<void> {
  const n = people++;
  const person = await signUp(rec, b.url, `fuzz-${n}@example.test`);
  callers.person = person.token;
  const org = `fuzz${n}`;
  await person.client.mutation(api.orgs.create, { slug: org, name: "Fuzz" });
  await person.client.mutation(api.workspaces.create, { org, slug: "main", name: "Main" });
  await person.client.mutation(api.items.put, { workspace: `${org}/main`, name: "Signal/one", data: { v: 1 } });
  const pat = await person.client.mutation(api.auth.createApiToken, { name: "fuzz-pat", scopes: [] });
  rec.secret("pat", pat.token, ISSUERS.pat);
  callers.pat = pat.token;
  const mcp = await person.client.mutation(api.auth.createApiToken, { name: "fuzz-mcp", scopes: [`${org}=work:read,work:write`], type: "MCP" });
  rec.secret("pat", mcp.token, ISSUERS.pat);
  callers.mcp = mcp.token;
  const session = await rec.httpClient(b.url, pat.token).mutation(api.auth.createSession, { agentId: "fuzzer", ttl: 3600 });
  rec.secret("agent-token", session.token, ISSUERS.agent);
  rec.secret("agent-refresh", session.refreshToken, ISSUERS.agent);
  callers.agent = session.token;
  const revoked = await person.client.mutation(api.auth.createApiToken, { name: "fuzz-revoked", scopes: [] });
  rec.secret("pat", revoked.token, ISSUERS.pat);
  await person.client.mutation(api.auth.revokeApiToken, { tokenId: revoked.tokenId });
  callers.revoked = revoked.token;
  const me = await person.client.query(api.users.me, {});
  known.splice(0, known.length, me.userId, pat.tokenId, revoked.tokenId, session.sessionId, org, `${org}/main`, "Signal/one", "Signal/*");
}

beforeAll(async () => {
  await setupTestEnv();
  b = await spawnBackend();
  void b.exited.then((code) => (exitedEarly = code));
});

afterAll(async () => {
  if (b) {
    await b.stop();
    rec.addLogs(b.logs());
  }
  rec.save();
});

// ---- discovery ---------------------------------------------------------------------

type Fn = { path: string; kind: "query" | "mutation" | "action"; args: Validator };

async function publicFunctions(): Promise<Fn[]> {
  const modules = import.meta.glob("../../convex/*.ts");
  const skip = /\/(schema|http|auth\.config|crons)\.ts$/;
  const out: Fn[] = [];
  for (const [file, load] of Object.entries(modules)) {
    if (skip.test(file)) continue;
    const mod = (await load()) as Record<string, Record<string, unknown>>;
    const name = file.replace(/^.*\/convex\//, "").replace(/\.ts$/, "");
    for (const [exp, fn] of Object.entries(mod)) {
      if (!fn || (typeof fn !== "function" && typeof fn !== "object") || !fn.isPublic) continue;
      const kind = fn.isQuery ? "query" : fn.isMutation ? "mutation" : fn.isAction ? "action" : null;
      if (!kind) continue;
      const args = JSON.parse((fn.exportArgs as () => string)()) as Validator;
      out.push({ path: `${name}:${exp}`, kind, args });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

// @convex-dev/auth's own functions throw plain Errors on bad input by design
// (e.g. "Provider `x` is not configured"): accepted there, never in ours,
// and never a TypeError/RangeError/… (a crash) anywhere.
const LIBRARY_FUNCTIONS = new Set(["auth:signIn", "auth:signOut"]);

function unacceptable(r: Captured): boolean {
  if (serverErrors([r], { allowValidation: true }).length === 0) return false;
  if (r.status !== 560) return true;
  const msg = (() => {
    try {
      return (JSON.parse(r.text.slice(r.text.indexOf("{"))) as { errorMessage?: string }).errorMessage ?? "";
    } catch {
      return "";
    }
  })();
  // Convex's own refusals of a malformed call (as the real backend words them).
  if (/Validator error|InvalidCursor|Could not find public function|ArgumentValidationError|^Trying to execute \S+ as \w+, but it is defined as \w+\.$/.test(msg)) return false;
  if (LIBRARY_FUNCTIONS.has(r.label) && /^Uncaught Error: /.test(msg)) return false;
  return true;
}

function alive() {
  expect(exitedEarly).toBeNull();
}

// ---- the fuzzing -------------------------------------------------------------------

describe("fuzz", () => {
  test(`every public Convex function, malformed arguments, every caller (seed ${SEED})`, async () => {
    await freshCallers();
    const fns = await publicFunctions();
    expect(fns.length).toBeGreaterThan(20);
    const start = rec.responses.length;
    const rand = prng(SEED);
    const pickKnown = () => known[Math.floor(rand() * known.length)]!;
    const callerNames = Object.keys(callers);
    const failures: string[] = [];
    for (const fn of fns) {
      const out = await fc.check(
        fc.asyncProperty(fromValidator(fn.args), fc.constantFrom(...callerNames), fc.constantFrom("/api/" + fn.kind, "/api/function"), async (rawArgs, caller, endpoint) => {
          const args = realize(rawArgs, pickKnown);
          const token = callers[caller];
          const res = await rec.fetch(`${b.url}${endpoint}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify({ path: fn.path, args: [args], format: "json" }, (_k, x) => (typeof x === "bigint" ? String(x) : x)),
          });
          await res.text();
          const last = rec.responses[rec.responses.length - 1]!;
          if (unacceptable(last)) throw new Error(`${fn.path} as ${caller}: HTTP ${last.status} ${last.text.slice(0, 300)}`);
        }),
        { numRuns: RUNS_PER_FUNCTION, seed: SEED, endOnFailure: true },
      );
      if (out.failed) failures.push(`${String((out.errorInstance as Error | null)?.message ?? out.errorInstance)} — args ${JSON.stringify(out.counterexample?.[0])}`);
    }
    // Raw garbage at the function endpoints: bad JSON, wrong shapes, huge bodies.
    const garbage = fc.oneof(
      fc.string({ maxLength: 200 }),
      anyJson.map((x) => JSON.stringify(x)),
      fc.record({ path: fc.oneof(text, fc.constantFrom(...fns.map((f) => f.path))), args: anyJson, format: fc.oneof(text, fc.constant("json")) }).map((x) => JSON.stringify(x)),
    );
    const garbageOrHuge = fc.oneof({ weight: 30, arbitrary: garbage }, { weight: 1, arbitrary: fc.constant("x".repeat(9 * 1024 * 1024)) });
    const raw = await fc.check(
      fc.asyncProperty(garbageOrHuge, fc.constantFrom("/api/query", "/api/mutation", "/api/action", "/api/function", "/api/query_ts", "/api/query_at_ts"), async (body, endpoint) => {
        const res = await rec.fetch(`${b.url}${endpoint}`, { method: "POST", headers: { "content-type": "application/json" }, body });
        await res.text();
        const last = rec.responses[rec.responses.length - 1]!;
        if (unacceptable(last)) throw new Error(`${endpoint}: HTTP ${last.status} ${last.text.slice(0, 300)}`);
      }),
      { numRuns: 60, seed: SEED, endOnFailure: true },
    );
    if (raw.failed) failures.push(String((raw.errorInstance as Error | null)?.message ?? raw.errorInstance));
    console.log(`[fuzz] ${fns.length} public functions, ${rec.responses.length - start} calls`);
    alive();
    // At most one failure per function (the first), all of them reported together.
    expect(failures).toEqual([]);
  });

  test(`every HTTP route, malformed requests (seed ${SEED})`, async () => {
    const http = (await import("../../convex/http")).default as { getRoutes(): Array<readonly [string, string, unknown]> };
    const routes = http.getRoutes();
    expect(routes.length).toBeGreaterThan(5);
    await freshCallers();
    const org = known[4]!;
    const paths = new Set<string>();
    for (const [route] of routes) {
      // Prefix routes come back as "/api/*".
      const path = route.endsWith("/*") ? route.slice(0, -1) : route;
      if (!path.endsWith("/")) paths.add(path);
      else if (path === "/api/") {
        for (const sub of [
          "whoami",
          "pats",
          "pats/fuzz-pat",
          "pats/fuzz-revoked",
          "pats/%2e%2e",
          "sessions",
          "sessions/refresh",
          `workspaces/${org}/main/items`,
          `workspaces/${org}/main/items/Signal/one`,
          `workspaces/${org}/main/items/%ZZ`,
          "workspaces/nope/x/items/a/b/c",
          "tokens/introspect",
          "tokens/revoke-leaked",
          "",
          "nope",
        ]) {
          paths.add(`/api/${sub}`);
        }
      } else {
        for (const sub of ["oauth2", "github", "slack", "nope", "oauth2/extra", ""]) paths.add(`${path}${sub}`);
      }
    }
    const start = rec.responses.length;
    const callerNames = Object.keys(callers);
    const header = fc.oneof(
      fc.constantFrom(...callerNames).map((c) => (callers[c] ? `Bearer ${callers[c]}` : undefined)),
      text.map((t) => `Bearer ${t}`),
      text,
      fc.constant(undefined),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      anyJson.map((x) => JSON.stringify(x)),
      fc.string({ maxLength: 300 }),
      fc.record({ token: fc.oneof(text, fc.constantFrom(...Object.values(callers).filter((x): x is string => !!x))) }).map((x) => JSON.stringify(x)),
      fc.record({ name: text, scopes: anyJson, expiresIn: leaf }).map((x) => JSON.stringify(x)),
      fc.record({ agentId: text, ttl: leaf, metadata: anyJson }).map((x) => JSON.stringify(x)),
      fc.record({ data: anyJson }).map((x) => JSON.stringify(x)),
    );
    const bodyOrHuge = fc.oneof({ weight: 40, arbitrary: body }, { weight: 1, arbitrary: fc.constant("x".repeat(2 * 1024 * 1024)) });
    const query = fc.oneof(fc.constant(""), fc.dictionary(fc.constantFrom("status", "limit", "cursor", "state", "code", "error", "token"), text, { maxKeys: 3 }).map((q) => `?${new URLSearchParams(q as Record<string, string>)}`));
    for (const path of [...paths].sort()) {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
          header,
          bodyOrHuge,
          query,
          fc.constantFrom("application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""),
          fc.option(fc.constantFrom("http://evil.example", "null", "http://127.0.0.1:5173"), { nil: undefined }),
          async (method, auth, payload, q, contentType, origin) => {
            const headers: Record<string, string> = {};
            if (auth !== undefined) headers.authorization = auth.replace(/[^\t\x20-\x7e]/g, "?");
            if (contentType) headers["content-type"] = contentType;
            if (origin) headers.origin = origin;
            const res = await rec.fetch(`${b.siteUrl}${path}${q}`, {
              method,
              headers,
              body: method === "GET" || method === "OPTIONS" ? undefined : payload,
              redirect: "manual",
            });
            await res.arrayBuffer();
            if (res.status >= 500) throw new Error(`${method} ${path}${q}: HTTP ${res.status}`);
          },
        ),
        { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
      );
    }
    console.log(`[fuzz] ${paths.size} HTTP paths, ${rec.responses.length - start} requests`);
    alive();
  });

  test(`the MCP endpoint: malformed JSON-RPC, every method and tool (seed ${SEED})`, async () => {
    await freshCallers();
    const post = async (token: string | null, payload: string) => {
      const res = await rec.fetch(`${b.siteUrl}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-06-18",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: payload,
      });
      return { status: res.status, text: await res.text() };
    };
    const listed = await post(callers.pat, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }));
    expect(listed.status).toBe(200);
    const tools = ((JSON.parse(listed.text) as { result?: { tools?: Array<{ name: string }> } }).result?.tools ?? []).map((t) => t.name);
    expect(tools.length).toBeGreaterThan(0);
    const message = fc.oneof(
      fc.record({
        jsonrpc: fc.oneof(fc.constant("2.0"), text),
        id: fc.oneof(fc.integer(), text, fc.constant(null)),
        method: fc.constantFrom("initialize", "tools/list", "tools/call", "ping", "resources/list", "prompts/list", "notifications/initialized", "nope"),
        params: anyJson,
      }),
      fc.record({
        jsonrpc: fc.constant("2.0"),
        id: fc.integer(),
        method: fc.constant("tools/call"),
        params: fc.record({ name: fc.oneof(fc.constantFrom(...tools), text), arguments: anyJson }),
      }),
      anyJson,
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(message.map((m) => JSON.stringify(realize(m, () => known[0]!))), fc.array(message, { maxLength: 3 }).map((m) => JSON.stringify(m)), fc.string()), fc.constantFrom(...Object.keys(callers)), async (payload, caller) => {
        const r = await post(callers[caller]!, payload);
        if (r.status >= 500) throw new Error(`/mcp as ${caller}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
      }),
      { numRuns: 150, seed: SEED, endOnFailure: true },
    );
    alive();
  });

  test("the sync WebSocket: malformed protocol messages", async () => {
    const frames = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 100 }),
        anyJson.map((x) => JSON.stringify(x)),
        fc.record({ type: fc.constantFrom("Connect", "ModifyQuerySet", "Mutation", "Action", "Authenticate", "Event", "Nope"), value: anyJson }).map((x) => JSON.stringify(x)),
        fc.constant(JSON.stringify({ type: "Authenticate", tokenType: "User", value: "garbage", baseVersion: 0 })),
        fc.constant(JSON.stringify({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 0, udfPath: "items:get", args: [{}] }] })),
      ),
      { numRuns: 120, seed: SEED },
    );
    for (let i = 0; i < frames.length; i += 10) {
      const ws = new WebSocket(`${b.url.replace("http", "ws")}/api/1.28.0/sync`);
      await new Promise<void>((resolve) => {
        ws.once("open", () => {
          for (const f of frames.slice(i, i + 10)) ws.send(f);
          setTimeout(() => {
            ws.terminate();
            resolve();
          }, 200);
        });
        ws.once("error", () => resolve());
      });
    }
    alive();
  });

  test("afterwards the backend still serves every kind of request", async () => {
    alive();
    const fresh = await signUp(rec, b.url, "fuzz-after@example.test");
    expect(fresh.token).toBeTruthy();
    const pat = await fresh.client.mutation(api.auth.createApiToken, { name: "after", scopes: [] });
    rec.secret("pat", pat.token, ISSUERS.pat);
    const res = await rec.fetch(`${b.siteUrl}/api/whoami`, { headers: { authorization: `Bearer ${pat.token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { tokenId: string }).tokenId).toBe(pat.tokenId);
    expect((await rec.httpClient(b.url, pat.token).query(api.auth.viewer, {})).kind).toBe("pat");
    const c = rec.client(b.url);
    c.setAuth(async () => pat.token);
    const viewer = await new Promise((resolve, reject) => {
      const unsub = c.onUpdate(api.auth.viewer, {}, (v) => {
        unsub();
        resolve(v);
      }, reject);
    });
    expect(viewer).toMatchObject({ kind: "pat" });
    await c.close();
    // Across the whole file, nothing answered with a server error.
    const bad = rec.responses.filter(unacceptable);
    expect(bad.map((r) => `${r.label} ${r.status} ${r.text.slice(0, 200)}`)).toEqual([]);
  });
});
