// Item data Convex cannot store — object keys that are not printable ASCII,
// start with "$" or are longer than 1024 characters, values nested deeper,
// arrays longer or objects wider than Convex allows — refused with
// invalid_argument on every surface (Convex functions, HTTP API, MCP), never
// a 500 or "internal error"; and nothing is stored. Convex's rules:
// get-convex/convex-backend crates/sync_types/src/identifier.rs
// (check_valid_field_name), crates/value/src/{object,array,size}.rs
// (MAX_OBJECT_FIELDS 1024, MAX_ARRAY_LEN 8192, MAX_NESTING 64), and the
// `convex` package's values/value.ts (validateObjectField).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { call, signUp } from "./helpers";

let b: SpawnedBackend;
let aliceJwt: string;
let pat: string;

/** Values nested `k` deep: [[…[1]…]]. */
const nested = (k: number): unknown => (k === 0 ? 1 : [nested(k - 1)]);

// Keys the `convex` client itself refuses to send (and Convex refuses to parse).
const BAD_KEYS: [string, unknown][] = [
  ["a non-ASCII key", { "é": 1 }],
  ["a non-ASCII key deep inside", { ok: [{ fine: { "温度": 20 } }] }],
  ["an emoji key", { "🔑": 1 }],
  ["a control character", { "a\u0001b": 1 }],
  ["a newline", { "a\nb": 1 }],
  ["DEL (0x7f)", { "a\u007fb": 1 }],
  ['a leading "$"', { $set: 1 }],
  ["a key over 1024 characters", { ["k".repeat(1025)]: 1 }],
];
// Values the client sends but Convex cannot store.
const BAD_SHAPES: [string, unknown][] = [
  ["nesting past Convex's 64 levels", nested(64)],
  ["an array over 8192 elements", new Array(8193).fill(0)],
  ["an object over 1024 fields", Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`f${i}`, 0]))],
];
const BAD = [...BAD_KEYS, ...BAD_SHAPES];

beforeAll(async () => {
  b = await spawnBackend();
  aliceJwt = await signUp(b, "alice@example.com");
  const alice = b.httpClient(aliceJwt);
  await alice.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  pat = (await alice.mutation(api.auth.createApiToken, { name: "rw", scopes: ["acme/site=work:read,work:write"] })).token;
});

afterAll(async () => {
  await b?.stop();
});

async function nothingStored(name: string) {
  expect(await b.httpClient(aliceJwt).query(api.items.get, { workspace: "acme/site", name })).toBeNull();
}

describe("what Convex can store is accepted", () => {
  test("printable ASCII keys (including empty, spaces, punctuation, 1024 chars), 63 levels, 8192 elements, 1024 fields", async () => {
    const ok = {
      "": 1,
      "a b": 2,
      "~!@#%^&*()_+-=[]{}|;':\",./<>?`": 3,
      ["k".repeat(1024)]: 4,
      deep: nested(62), // + the object around it = 63 levels below the document
      long: new Array(8192).fill(0),
      wide: Object.fromEntries(Array.from({ length: 1020 }, (_, i) => [`f${i}`, 0])),
    };
    const r = await call(b, "PUT", "/api/workspaces/acme/site/items/ok", { token: pat, body: { data: ok } });
    expect(r.status).toBe(200);
    const got = await b.httpClient(aliceJwt).query(api.items.get, { workspace: "acme/site", name: "ok" });
    expect(got!.data).toEqual(ok);
  });
});

describe("Convex functions", () => {
  test.each(BAD_SHAPES)("ConvexHttpClient, %s: invalid_argument", async (_what, data) => {
    const e = await b
      .httpClient(pat)
      .mutation(api.items.put, { workspace: "acme/site", name: "shape", data })
      .then(() => null, (err: unknown) => err);
    expect(e).toMatchObject({ data: { code: "invalid_argument" } });
    await nothingStored("shape");
  });

  test.each(BAD_KEYS)("raw POST /api/mutation, %s: refused as bad arguments, never a 5xx", async (_what, data) => {
    // The official clients refuse such keys before sending (convex/values
    // validateObjectField); a raw request gets Convex's own argument error.
    const res = await fetch(`${b.url}/api/mutation`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${pat}` },
      body: JSON.stringify({ path: "items:put", args: { workspace: "acme/site", name: "raw", data }, format: "json" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^Invalid args/);
    await nothingStored("raw");
  });
});

describe("HTTP API", () => {
  test.each(BAD)("PUT item data with %s: 400 invalid_argument", async (_what, data) => {
    const r = await call(b, "PUT", "/api/workspaces/acme/site/items/http", { token: pat, body: { data } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("invalid_argument");
    expect(r.json.error.message).toMatch(/^item data/);
    await nothingStored("http");
  });
});

describe("HTTP API: agent session metadata (the same rule)", () => {
  test.each(BAD_KEYS)("POST /api/sessions with metadata holding %s: 400 invalid_argument", async (_what, data) => {
    const r = await call(b, "POST", "/api/sessions", { token: pat, body: { agentId: "a", metadata: { m: data } } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("invalid_argument");
    expect(r.json.error.message).toMatch(/^metadata/);
  });
});

describe("MCP", () => {
  let id = 0;
  async function putItem(data: unknown) {
    const r = await call(b, "POST", "/mcp", {
      token: pat,
      headers: { Accept: "application/json, text/event-stream" },
      body: {
        jsonrpc: "2.0",
        id: ++id,
        method: "tools/call",
        params: { name: "put_item", arguments: { workspace: "acme/site", name: "mcp", data } },
      },
    });
    expect(r.status).toBe(200);
    const body = r.json ?? JSON.parse(/data: (.*)/.exec(r.text)![1]);
    return body.result as { isError?: boolean; content: { text: string }[] };
  }

  test.each(BAD)("tools/call put_item with %s: an invalid_argument tool error", async (_what, data) => {
    const result = await putItem(data);
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/^invalid_argument: item data/);
    await nothingStored("mcp");
  });
});
