// The MCP endpoint end to end with the official SDK client
// (Client + StreamableHTTPClientTransport, Bearer header) against the
// embedded backend: initialize, tools filtered by scope, allowed and denied
// calls, revocation → the very next call fails with 401 / JSON-RPC −32001,
// child agent sessions; plus the raw HTTP answers (fetch).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { backendEnv, call, signUp, signWithBackendKey } from "../http/helpers";

let b: SpawnedBackend;
let aliceJwt: string;
const open: Client[] = [];

beforeAll(async () => {
  b = await spawnBackend();
  aliceJwt = await signUp(b, "alice@example.com");
  const alice = b.httpClient(aliceJwt);
  await alice.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "ops", name: "Ops" });
  await alice.mutation(api.items.put, { workspace: "acme/site", name: "Signal/temp-1", data: { celsius: 20 } });
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => {})));
  await b?.stop();
});

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "keyhole-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${b.siteUrl}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  open.push(client);
  return client;
}

async function pat(name: string, scopes: unknown[]) {
  return await b.httpClient(aliceJwt).mutation(api.auth.createApiToken, { name, scopes: scopes as string[] });
}

/** The HTTP status and JSON-RPC error a failed client call carried. */
async function failure(p: Promise<unknown>): Promise<{ status: number; rpc: { code: number; message: string } }> {
  const e = await p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StreamableHTTPError);
  const err = e as StreamableHTTPError;
  const body = JSON.parse(err.message.slice(err.message.indexOf("{"))) as { error: { code: number; message: string } };
  return { status: err.code!, rpc: body.error };
}

function text(result: unknown): any {
  const r = result as { content: { type: string; text: string }[]; isError?: boolean };
  return JSON.parse(r.content[0].text);
}

describe("MCP with the official SDK client", () => {
  test("initialize: server info and tools capability", async () => {
    const t = await pat("mcp-full", []);
    const client = await connect(t.token);
    expect(client.getServerVersion()).toMatchObject({ name: "keyhole" });
    expect(client.getServerCapabilities()?.tools).toBeDefined();
    await client.ping();
  });

  test("tools/list shows only the tools the token may call", async () => {
    // Blank scopes and "*" are the full role, except connections:use: no get_connection_token.
    for (const [name, scopes] of [["mcp-all", []], ["mcp-star", ["*"]]] as const) {
      const full = await connect((await pat(name, [...scopes])).token);
      const all = (await full.listTools()).tools.map((t) => t.name).sort();
      expect(all).toEqual(["delete_item", "get_item", "list_items", "list_workspaces", "put_item", "whoami"].sort());
      const denied = await failure(full.callTool({ name: "get_connection_token", arguments: { provider: "github" } }));
      expect(denied).toMatchObject({ status: 403, rpc: { code: -32003 } });
    }
    // Named, it is listed next to the full role's tools.
    const named = await connect((await pat("mcp-all-named", ["connections:use", "acme=work:read"])).token);
    expect((await named.listTools()).tools.map((t) => t.name)).toContain("get_connection_token");

    const reader = await connect((await pat("mcp-reader", ["acme/site=work:read"])).token);
    expect((await reader.listTools()).tools.map((t) => t.name).sort()).toEqual(["get_item", "list_items", "whoami"]);

    const conn = await connect((await pat("mcp-conn", ["connections:use"])).token);
    expect((await conn.listTools()).tools.map((t) => t.name).sort()).toEqual(["get_connection_token", "whoami"]);
    // the call reaches oauth:getConnectionToken; with no connection it is an ordinary tool error
    const vended = await conn.callTool({ name: "get_connection_token", arguments: { provider: "github" } });
    expect(vended.isError).toBe(true);
    expect((vended.content as { text: string }[])[0].text).toMatch(/^(not_found|invalid_argument|conflict): /);
  });

  test("allowed tools work; a denied tool → 403 with JSON-RPC −32003", async () => {
    const t = await pat("mcp-rw", [
      { resource: "acme/site", permissions: ["work:read", "work:write"], allowedMatches: ["Signal/*"] },
    ]);
    const client = await connect(t.token);
    const who = text(await client.callTool({ name: "whoami", arguments: {} }));
    expect(who).toMatchObject({ kind: "pat", tokenName: "mcp-rw", email: "alice@example.com" });

    const got = await client.callTool({ name: "get_item", arguments: { workspace: "acme/site", name: "Signal/temp-1" } });
    expect(text(got)).toMatchObject({ name: "Signal/temp-1", data: { celsius: 20 } });

    const put = await client.callTool({
      name: "put_item",
      arguments: { workspace: "acme/site", name: "Signal/temp-2", data: { celsius: 22 } },
    });
    expect(put.isError).toBeFalsy();
    const listed = text(await client.callTool({ name: "list_items", arguments: { workspace: "acme/site" } }));
    expect(listed.items.map((i: { name: string }) => i.name)).toEqual(["Signal/temp-1", "Signal/temp-2"]);

    // a tool outside the token's permissions
    const denied = await failure(client.callTool({ name: "list_workspaces", arguments: {} }));
    expect(denied.status).toBe(403);
    expect(denied.rpc.code).toBe(-32003);
    // a listed tool, but on a name outside allowedMatches
    const outside = await failure(
      client.callTool({ name: "put_item", arguments: { workspace: "acme/site", name: "Config/db", data: 1 } }),
    );
    expect(outside.status).toBe(403);
    expect(outside.rpc.code).toBe(-32003);
    // ... or on another workspace
    const other = await failure(client.callTool({ name: "list_items", arguments: { workspace: "acme/ops" } }));
    expect(other.status).toBe(403);

    // a missing item is an ordinary tool error, not an HTTP failure
    const missing = await client.callTool({ name: "get_item", arguments: { workspace: "acme/site", name: "Signal/none" } });
    expect(missing.isError).toBe(true);
    // the client still works after the refusals
    expect(text(await client.callTool({ name: "whoami", arguments: {} })).kind).toBe("pat");
  });

  test("list_workspaces lists only what the token reaches", async () => {
    const t = await pat("mcp-ws", ["acme/site=workspace:read"]);
    const client = await connect(t.token);
    const ws = text(await client.callTool({ name: "list_workspaces", arguments: {} }));
    // the token has no org:read, so the org is found through its scopes; only "site" is readable
    expect(ws).toEqual([{ org: "acme", workspaces: [{ slug: "site", name: "Site" }] }]);

    const full = await connect((await pat("mcp-ws-full", [])).token);
    const all = text(await full.callTool({ name: "list_workspaces", arguments: {} }));
    expect(all).toEqual([
      {
        org: "acme",
        name: "Acme",
        role: "owner",
        workspaces: expect.arrayContaining([{ slug: "site", name: "Site" }, { slug: "ops", name: "Ops" }]),
      },
    ]);
  });

  test("revoking the PAT from another client: the very next tools/call fails with 401 / −32001", async () => {
    const t = await pat("mcp-doomed", []);
    const client = await connect(t.token);
    expect(text(await client.callTool({ name: "whoami", arguments: {} })).tokenId).toBe(t.tokenId);

    await b.httpClient(aliceJwt).mutation(api.auth.revokeApiToken, { tokenId: t.tokenId });

    const f = await failure(client.callTool({ name: "whoami", arguments: {} }));
    expect(f.status).toBe(401);
    expect(f.rpc.code).toBe(-32001);
    const again = await failure(client.listTools());
    expect(again).toMatchObject({ status: 401, rpc: { code: -32001 } });
  });

  test("a child agent session token works the same way and dies with its parent", async () => {
    const parent = await pat("mcp-parent", ["acme/site=work:read,work:write"]);
    const session = await b.httpClient(parent.token).mutation(api.auth.createSession, { agentId: "claude", ttl: 600 });
    const client = await connect(session.token);
    const who = text(await client.callTool({ name: "whoami", arguments: {} }));
    expect(who).toMatchObject({ kind: "agent", agentId: "claude", sessionId: session.sessionId });
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
      "delete_item",
      "get_item",
      "list_items",
      "put_item",
      "whoami",
    ]);
    const got = await client.callTool({ name: "get_item", arguments: { workspace: "acme/site", name: "Signal/temp-1" } });
    expect(got.isError).toBeFalsy();
    const denied = await failure(client.callTool({ name: "get_connection_token", arguments: { provider: "github" } }));
    expect(denied).toMatchObject({ status: 403, rpc: { code: -32003 } });

    await b.httpClient(aliceJwt).mutation(api.auth.revokeApiToken, { tokenId: parent.tokenId });
    const f = await failure(client.callTool({ name: "whoami", arguments: {} }));
    expect(f).toMatchObject({ status: 401, rpc: { code: -32001 } });
  });

  test("an ended agent session fails on its next call", async () => {
    const session = await b.httpClient(aliceJwt).mutation(api.auth.createSession, { agentId: "cursor", ttl: 600 });
    const client = await connect(session.token);
    await client.callTool({ name: "whoami", arguments: {} });
    await b.httpClient().mutation(api.auth.endSession, { token: session.token });
    expect(await failure(client.callTool({ name: "whoami", arguments: {} }))).toMatchObject({
      status: 401,
      rpc: { code: -32001 },
    });
  });
});

describe("MCP over raw HTTP", () => {
  const mcpHeaders = { Accept: "application/json, text/event-stream", "Content-Type": "application/json" };
  /** A JSON-RPC request (id null: a notification). */
  const rpc = (method: string, params: unknown = {}, id: number | null = 1) =>
    JSON.stringify({ jsonrpc: "2.0", ...(id === null ? {} : { id }), method, params });

  test("no credential → 401 naming the resource metadata and scopes; the metadata names keyhole's authorization server (RFC 9728)", async () => {
    const r = await call(b, "POST", "/mcp", { body: rpc("tools/list"), headers: mcpHeaders });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe(
      `Bearer realm="keyhole", resource_metadata="${b.siteUrl}/.well-known/oauth-protected-resource/mcp", scope="workspace:read work:read work:write"`,
    );
    expect(r.json).toMatchObject({ jsonrpc: "2.0", id: 1, error: { code: -32001 } });

    const meta = await call(b, "GET", "/.well-known/oauth-protected-resource/mcp");
    expect(meta.status).toBe(200);
    expect(meta.json).toMatchObject({
      resource: `${b.siteUrl}/mcp`,
      authorization_servers: [b.siteUrl],
      bearer_methods_supported: ["header"],
    });
    expect(meta.json.scopes_supported).toContain("work:read");
    // The origin itself is not a resource, and there is no partial OIDC document to trip clients.
    expect((await call(b, "GET", "/.well-known/oauth-protected-resource")).status).toBe(404);
    expect((await call(b, "GET", "/.well-known/openid-configuration")).status).toBe(404);
    const as = await call(b, "GET", "/.well-known/oauth-authorization-server");
    expect(as.json).toMatchObject({ issuer: b.siteUrl, code_challenge_methods_supported: ["S256"], client_id_metadata_document_supported: true });
  });

  test("unknown and expired tokens → 401 / −32001 with error=invalid_token", async () => {
    const t = await pat("mcp-raw", []);
    const now = Math.floor(Date.now() / 1000);
    for (const token of [
      "garbage",
      await signWithBackendKey(b, { kind: "pat", id: t.tokenId, exp: now - 1 }),
      await signWithBackendKey(b, { kind: "agent", id: "nosuchsession", exp: now + 600 }),
    ]) {
      const r = await call(b, "POST", "/mcp", { token, body: rpc("tools/list", {}, 7), headers: mcpHeaders });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ jsonrpc: "2.0", id: 7, error: { code: -32001, message: "invalid or expired token" } });
      expect(r.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect(r.headers.get("www-authenticate")).toContain("resource_metadata=");
    }
  });

  test("GET/DELETE → 405; notifications → 202; bad Origin → 403; a session id authenticates nothing", async () => {
    const t = await pat("mcp-raw2", []);
    expect((await call(b, "GET", "/mcp", { token: t.token, headers: { Accept: "text/event-stream" } })).status).toBe(405);
    expect((await call(b, "DELETE", "/mcp", { token: t.token })).status).toBe(405);

    const note = await call(b, "POST", "/mcp", {
      token: t.token,
      body: rpc("notifications/initialized", {}, null),
      headers: mcpHeaders,
    });
    expect(note.status).toBe(202);

    const evil = await call(b, "POST", "/mcp", {
      token: t.token,
      body: rpc("tools/list"),
      headers: { ...mcpHeaders, Origin: "https://evil.example" },
    });
    expect(evil.status).toBe(403);
    const dashboard = backendEnv(b).SITE_URL.replace(/\/+$/, "");
    const fromDashboard = await call(b, "POST", "/mcp", {
      token: t.token,
      body: rpc("tools/list"),
      headers: { ...mcpHeaders, Origin: dashboard },
    });
    expect(fromDashboard.status).toBe(200);
    expect(fromDashboard.headers.get("access-control-allow-origin")).toBe(dashboard);

    const sessionOnly = await call(b, "POST", "/mcp", {
      body: rpc("tools/list"),
      headers: { ...mcpHeaders, "Mcp-Session-Id": "anything" },
    });
    expect(sessionOnly.status).toBe(401);
  });

  test("plain JSON-RPC: initialize, tools/call, malformed JSON, oversized body", async () => {
    const t = await pat("mcp-raw3", ["acme/site=work:read"]);
    const init = await call(b, "POST", "/mcp", {
      token: t.token,
      body: rpc("initialize", {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "curl", version: "0" },
      }),
      headers: mcpHeaders,
    });
    expect(init.status).toBe(200);
    expect(init.json.result.serverInfo.name).toBe("keyhole");
    expect(init.headers.get("mcp-session-id")).toBeNull();

    const called = await call(b, "POST", "/mcp", {
      token: t.token,
      body: rpc("tools/call", { name: "get_item", arguments: { workspace: "acme/site", name: "Signal/temp-1" } }, 2),
      headers: mcpHeaders,
    });
    expect(called.status).toBe(200);
    expect(JSON.parse(called.json.result.content[0].text).data).toEqual({ celsius: 20 });

    const bad = await call(b, "POST", "/mcp", { token: t.token, body: "{nope", headers: mcpHeaders });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe(-32700);

    const big = await call(b, "POST", "/mcp", {
      token: t.token,
      body: rpc("tools/call", { name: "whoami", arguments: { pad: "x".repeat(100 * 1024) } }),
      headers: mcpHeaders,
    });
    expect(big.status).toBe(413);
  });
});
