// The org token policy for MCP clients (allowMcpClients) is decided once per
// /mcp request, when it authenticates (authn.mcpRefusals), for every org the
// request's tool calls reach. The attacker's move: hide a call on a refusing
// org in a batch behind an allowed one, or ask list_workspaces in a batch.
// Then the step count: a tool call on a workspace costs the tool's own query
// and nothing more (there used to be one policy query per call).
import { getFunctionName } from "convex/server";
import { beforeEach, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { handleMcpRequest } from "../../convex/model/http/mcp";
import { asToken, makeTest, signIn, type TestConvex } from "../helpers/convex";
import { setupTestEnv } from "../helpers/env";

const HEADERS = { Accept: "application/json, text/event-stream", "Content-Type": "application/json" };
const call = (id: number, name: string, args: unknown) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });

describe("allowMcpClients off for one org, on for another", () => {
  let t: TestConvex;
  let pat: { token: string; tokenId: string };

  beforeEach(async () => {
    t = await makeTest();
    const alice = await signIn(t, "alice@example.com");
    for (const org of ["acme", "beta"]) {
      await alice.as.mutation(api.orgs.create, { slug: org, name: org });
      await alice.as.mutation(api.workspaces.create, { org, slug: "site", name: "Site" });
      await alice.as.mutation(api.items.put, { workspace: `${org}/site`, name: "notes", data: org });
    }
    pat = await alice.as.mutation(api.auth.createApiToken, { name: "agent", scopes: [] });
    await alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { allowMcpClients: false } });
  });

  async function post(body: unknown) {
    const r = await asToken(t, "pat", pat.tokenId).fetch("/mcp", {
      method: "POST",
      headers: { ...HEADERS, Authorization: `Bearer ${pat.token}` },
      body: JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
  }

  test("a call on the refusing org is refused wherever it stands in a batch", async () => {
    const allowed = call(1, "get_item", { workspace: "beta/site", name: "notes" });
    const refused = call(2, "get_item", { workspace: "acme/site", name: "notes" });
    for (const batch of [[allowed, refused], [refused, allowed]]) {
      const r = await post(batch);
      expect(r.status).toBe(403);
      expect(r.text).toContain('the token policy of \\"acme\\" refuses this token: allowMcpClients is off');
    }
    expect((await post(allowed)).text).toContain('\\"data\\": \\"beta\\"');
  });

  test("to a non-member, an org that refuses MCP clients answers like an org that does not exist", async () => {
    // The attacker probes org names with their own MCP token: a policy
    // message would tell them "acme" exists (missing and hidden orgs answer alike).
    const mallory = await signIn(t, "mallory@example.com");
    await mallory.as.mutation(api.orgs.create, { slug: "evil", name: "Evil" });
    const theirs = await mallory.as.mutation(api.auth.createApiToken, { name: "probe", scopes: [], type: "MCP" });
    const probe = async (workspace: string) => {
      const r = await asToken(t, "pat", theirs.tokenId).fetch("/mcp", {
        method: "POST",
        headers: { ...HEADERS, Authorization: `Bearer ${theirs.token}` },
        body: JSON.stringify(call(1, "get_item", { workspace, name: "notes" })),
      });
      return { status: r.status, text: (await r.text()).replaceAll(workspace.split("/")[0]!, "<org>") };
    };
    const hidden = await probe("acme/site");
    expect(hidden.text).not.toContain("token policy");
    expect(hidden).toEqual(await probe("nosuch/site"));
  });

  test("list_workspaces in a batch leaves the refusing org out", async () => {
    const r = await post([call(1, "whoami", {}), call(2, "list_workspaces", {})]);
    expect(r.status).toBe(200);
    const results = JSON.parse(r.text) as { id: number; result: { content: { text: string }[] } }[];
    const listed = JSON.parse(results.find((x) => x.id === 2)!.result.content[0].text) as { org: string }[];
    expect(listed.map((o) => o.org)).toEqual(["beta"]);
  });
});

describe("steps of one tool call", () => {
  const who = { kind: "pat", userId: "u1", email: null, tokenId: "t1", tokenName: "x", scopes: [], expiresAt: Date.now() + 3600_000 };
  const item = { _id: "i1", name: "notes", data: 1, updatedAt: 0, updatedBy: "u1" };

  let credentials = 0;

  /**
   * Runs requests with a ctx that records every Convex function it is asked
   * to run; each steps() call is a credential not seen before (`repeat`: its
   * first request, then that many more, the ones recorded).
   */
  async function steps(refusals: { org: string; code: string; message: string }[], body: unknown, repeat = 0) {
    await setupTestEnv();
    const ran: { name: string; args: unknown }[] = [];
    const record = async (ref: never, args: unknown) => {
      ran.push({ name: getFunctionName(ref), args });
      if (getFunctionName(ref).startsWith("httpInternal:authenticate")) {
        return { ok: true, who, permissions: ["work:read"], mcpRefusals: refusals, useRecordDueAt: Date.now() + 60_000 };
      }
      return item;
    };
    const identity = { subject: "pat:t1", tokenIdentifier: `https://issuer|pat:t${++credentials}` };
    const ctx = { auth: { getUserIdentity: async () => identity }, runQuery: record, runMutation: record };
    for (let i = 0; i < repeat; i++) {
      const req = new Request("http://127.0.0.1:3211/mcp", { method: "POST", headers: { ...HEADERS, Authorization: "Bearer x" }, body: JSON.stringify(body) });
      await handleMcpRequest(ctx as never, req);
      ran.length = 0;
    }
    const req = new Request("http://127.0.0.1:3211/mcp", {
      method: "POST",
      headers: { ...HEADERS, Authorization: "Bearer x" },
      body: JSON.stringify(body),
    });
    const res = await handleMcpRequest(ctx as never, req);
    return { status: res.status, ran };
  }

  test("authenticate (which decides the token policy for the orgs named), then the tool's own query", async () => {
    const r = await steps([], call(1, "get_item", { workspace: "acme/site", name: "notes" }));
    expect(r.status).toBe(200);
    expect(r.ran.map((s) => s.name)).toEqual(["httpInternal:authenticate", "items:getInternal"]);
    expect(r.ran[0].args).toMatchObject({ mcp: { orgs: ["acme"], memberOrgs: false } });
  });

  test("an org authenticate found refusing: the tool's query never runs", async () => {
    const refusal = { org: "acme", code: "forbidden", message: 'the token policy of "acme" refuses this token' };
    const r = await steps([refusal], call(1, "get_item", { workspace: "acme/site", name: "notes" }));
    expect(r.status).toBe(403);
    expect(r.ran.map((s) => s.name)).toEqual(["httpInternal:authenticate"]);
  });

  test("the credential's next request, no use record due: the read-only check, then the tool's query; a refusal still stops it", async () => {
    const r = await steps([], call(1, "get_item", { workspace: "acme/site", name: "notes" }), 1);
    expect(r.status).toBe(200);
    expect(r.ran.map((s) => s.name)).toEqual(["httpInternal:authenticateRead", "items:getInternal"]);
    expect(r.ran[0].args).toMatchObject({ mcp: { orgs: ["acme"], memberOrgs: false } });
    const refusal = { org: "acme", code: "forbidden", message: 'the token policy of "acme" refuses this token' };
    const refused = await steps([refusal], call(1, "get_item", { workspace: "acme/site", name: "notes" }), 1);
    expect(refused.status).toBe(403);
    expect(refused.ran.map((s) => s.name)).toEqual(["httpInternal:authenticateRead"]);
  });
});
