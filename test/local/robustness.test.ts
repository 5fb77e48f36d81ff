// Bad input gets a clear error, and the backend keeps serving everyone else.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";

let b: SpawnedBackend;
beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  await b?.stop();
});

const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${b.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: body as BodyInit,
  });

async function stillServing() {
  expect(await b.httpClient().query(api.auth.isAuthenticated, {})).toBe(false);
}

describe("malformed HTTP requests", () => {
  test("malformed JSON → 400 with a message", async () => {
    const r = await post("/api/query", "{not json");
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ code: "BadJsonBody", message: expect.stringMatching(/Invalid JSON/) });
    const r2 = await post("/api/mutation", JSON.stringify({ args: [{}] }));
    expect(r2.status).toBe(400);
    expect((await r2.json()) as { message: string }).toMatchObject({ message: expect.stringMatching(/path/) });
    const r3 = await post("/api/query", JSON.stringify({ path: "auth:isAuthenticated", args: ["not an object"] }));
    expect(r3.status).toBe(400);
    await stillServing();
  });

  test("unknown function → error naming it", async () => {
    await expect(b.httpClient().query("nope:missing" as never, {})).rejects.toThrow(
      /Could not find public function for 'nope:missing'/,
    );
    // Also the wrong kind of function.
    await expect(b.httpClient().query(api.auth.signIn as never, {})).rejects.toThrow(/defined as Action/);
    await stillServing();
  });

  test("bad args → validation error", async () => {
    const r = await post("/api/mutation", JSON.stringify({ path: "orgs:create", args: [{ slug: 5 }], format: "convex_encoded_json" }));
    expect(r.status).toBe(560);
    const body = (await r.json()) as { status: string; errorMessage: string };
    expect(body.status).toBe("error");
    expect(body.errorMessage).toMatch(/Validator error|ArgumentValidationError|Expected/);
    await stillServing();
  });

  test("a `__proto__` key in the arguments is a field like any other: a validation error, never a crash", async () => {
    // JSON.parse makes `__proto__` an own key; a decoder that assigns it with
    // `out[k] = v` swaps the prototype instead and the value stops being a
    // Convex value (found by the fuzzer, seed 215538). Convex parses it as a
    // plain field and its validator refuses it (crates/common/src/types/functions.rs,
    // check_args), so the caller sees a validation error.
    for (const args of [
      '[{"status":[{"__proto__":[null]},[0]]}]',
      '[{"status":{"__proto__":{"a":1}}}]',
      '[{"__proto__":{"status":"active"}}]',
    ]) {
      const r = await post("/api/query", `{"path":"auth:listApiTokens","args":${args},"format":"convex_encoded_json"}`);
      const body = (await r.json()) as { status: string; errorMessage: string };
      expect(body.status).toBe("error");
      expect(body.errorMessage).toMatch(/Validator error|ArgumentValidationError/);
      expect(body.errorMessage).not.toMatch(/not a supported Convex type/);
    }
    await stillServing();
  });

  test("a malformed pagination cursor → invalid_argument, null options → argument error, not a crash", async () => {
    const { tokens } = (await b.httpClient().action(api.auth.signIn, {
      provider: "password",
      params: { email: "cursor@example.com", password: "correct horse battery", flow: "signUp" },
    })) as { tokens: { token: string } };
    const me = b.httpClient(tokens.token);
    for (const cursor of ["♸", "[1]", '["{\\"$integer\\":7}"]', "{}"]) {
      // The engine refuses it as InvalidCursor (like the real backend); audit.list turns that into a keyhole error.
      await expect(me.query(api.audit.list, { paginationOpts: { numItems: 5, cursor } })).rejects.toThrow(
        /invalid_argument.*cursor is malformed/,
      );
    }
    // null where an object is expected is an argument error too (convex-test alone would crash).
    await expect(me.query(api.audit.list, { paginationOpts: null } as never)).rejects.toThrow(/ArgumentValidationError/);
    const first = await me.query(api.audit.list, { paginationOpts: { numItems: 5, cursor: null } });
    expect(first.isDone).toBe(true);
    await stillServing();
  });

  test("body over 8 MiB → 413, API and site", async () => {
    const big = new Uint8Array(9 * 1024 * 1024).fill(0x20);
    const r = await post("/api/mutation", big);
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ code: "RequestTooLarge" });
    const s = await fetch(`${b.siteUrl}/.well-known/jwks.json`, { method: "POST", body: big });
    expect(s.status).toBe(413);
    await stillServing();
  });

  test("wrong method, unknown route, garbage HTTP", async () => {
    expect((await fetch(`${b.url}/api/query`)).status).toBe(405);
    expect((await post("/api/nothing", "{}")).status).toBe(404);
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(Number(new URL(b.url).port), "127.0.0.1", () => s.write("\x00\x01garbage\r\n\r\n"));
      let data = "";
      s.on("data", (d) => (data += d.toString()));
      s.on("close", () => resolve(data));
      s.on("error", () => resolve(data));
    });
    expect(reply).toMatch(/400 Bad Request/);
    await stillServing();
  });

  test("an unsupported Authorization scheme is refused", async () => {
    const r = await post("/api/query", JSON.stringify({ path: "auth:isAuthenticated", args: [{}] }), {
      authorization: "Basic dXNlcjpwYXNz",
    });
    expect(r.status).toBe(401);
    await stillServing();
  });
});

describe("garbage on the sync socket", () => {
  const wsUrl = () => `${b.url.replace("http", "ws")}/api/1.48.0/sync`;
  const session = (send: (ws: WebSocket) => void) =>
    new Promise<{ messages: string[]; code: number; reason: string }>((resolve) => {
      const ws = new WebSocket(wsUrl());
      const messages: string[] = [];
      ws.on("open", () => send(ws));
      ws.on("message", (m) => messages.push(m.toString()));
      ws.on("close", (code, reason) => resolve({ messages, code, reason: reason.toString() }));
      ws.on("error", () => {});
    });

  test("non-JSON text → FatalError and close; others unaffected", async () => {
    const live = b.client();
    expect(await live.query(api.auth.isAuthenticated, {})).toBe(false);
    const r = await session((ws) => ws.send("this is not json"));
    expect(r.code).toBe(1007);
    expect(JSON.parse(r.messages[0]!)).toMatchObject({ type: "FatalError", error: expect.stringMatching(/Invalid message/) });
    expect(await live.query(api.auth.isAuthenticated, {})).toBe(false);
  });

  test("binary frames, unknown message types, out-of-order versions", async () => {
    const r1 = await session((ws) => ws.send(Buffer.from([1, 2, 3])));
    expect(r1.code).toBe(1007);
    const r2 = await session((ws) => ws.send(JSON.stringify({ type: "Explode" })));
    expect(JSON.parse(r2.messages[0]!)).toMatchObject({ type: "FatalError", error: expect.stringMatching(/Unknown message type/) });
    const r3 = await session((ws) =>
      ws.send(JSON.stringify({ type: "ModifyQuerySet", baseVersion: 7, newVersion: 8, modifications: [] })),
    );
    expect(JSON.parse(r3.messages[0]!)).toMatchObject({ type: "FatalError", error: expect.stringMatching(/base version/) });
    await stillServing();
  });

  test("a query for a missing function fails just that query", async () => {
    const r = await new Promise<Record<string, unknown>>((resolve) => {
      const ws = new WebSocket(wsUrl());
      ws.on("open", () => {
        ws.send(JSON.stringify({ type: "Connect", sessionId: "s1", connectionCount: 0, lastCloseReason: null, clientTs: Date.now() }));
        ws.send(
          JSON.stringify({
            type: "ModifyQuerySet",
            baseVersion: 0,
            newVersion: 1,
            modifications: [
              { type: "Add", queryId: 0, udfPath: "nope:missing", args: [{}] },
              { type: "Add", queryId: 1, udfPath: "auth:isAuthenticated", args: [{}] },
            ],
          }),
        );
      });
      ws.on("message", (m) => {
        const msg = JSON.parse(m.toString()) as Record<string, unknown>;
        if (msg.type === "Transition") {
          resolve(msg);
          ws.close();
        }
      });
    });
    const mods = r.modifications as Array<Record<string, unknown>>;
    expect(mods.find((m) => m.queryId === 0)).toMatchObject({ type: "QueryFailed", errorMessage: expect.stringMatching(/Could not find/) });
    expect(mods.find((m) => m.queryId === 1)).toMatchObject({ type: "QueryUpdated", value: false });
    expect(r.endVersion).toMatchObject({ querySet: 1, identity: 0 });
  });

  test("an oversized message closes only that socket", async () => {
    const r = await session((ws) => ws.send("x".repeat(9 * 1024 * 1024)));
    expect(r.code).toBe(1009);
    await stillServing();
  });
});
