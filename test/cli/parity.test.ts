// CLI parity with the dashboard (issue 17): --json on every command, the
// CLI's sign-in recorded as a device ("keyhole CLI on Linux", with its IP),
// its calls carrying its own user agent, `keyhole mcp config` printing a
// configuration that really reaches /mcp, and honest last-use wording.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import { buildProgram } from "../../cli/main";
import { describeUserAgent } from "../../web/src/lib/ua";
import { root } from "../browser/harness";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { PASSWORD } from "../helpers/signup";
import { homesFor, ok } from "./run";

let b: SpawnedBackend;
const homes = homesFor(() => b.url);
beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  homes.cleanup();
  await b?.stop();
});

let n = 0;
async function signedIn() {
  const h = homes.make();
  const run = h.run;
  const email = `parity${++n}-${Date.now()}@example.com`;
  const login = JSON.parse(ok(await run(["login", "--signup", "--email", email, "--json"], { input: `${PASSWORD}\n` })).stdout);
  const creds = JSON.parse((await import("node:fs")).readFileSync(h.credentials, "utf8")) as { token: string };
  const client = new ConvexHttpClient(b.url, { logger: false });
  client.setAuth(creds.token);
  return { run, email, login, client };
}

/** Runs mcp-remote's proxy with `args` and `env` (no browser, its own config dir); returns whoami's text over stdio. */
async function viaMcpRemote(args: string[], env: Record<string, string>): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-parity-mcp-"));
  const child = spawn(process.execPath, [path.join(root, "node_modules/mcp-remote/dist/proxy.js"), ...args], {
    env: { ...process.env, ...env, BROWSER: "/bin/false", MCP_REMOTE_CONFIG_DIR: dir },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  let buffer = "";
  const answers = new Map<number, (m: unknown) => void>();
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) {
        const msg = JSON.parse(line) as { id?: number };
        if (typeof msg.id === "number") answers.get(msg.id)?.(msg);
      }
    }
  });
  const request = (id: number, method: string, params: unknown) => {
    const answered = new Promise<unknown>((r) => answers.set(id, r));
    child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    return answered;
  };
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`mcp-remote: no answer\n${stderr}`)), 60_000));
    await Promise.race([request(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "parity", version: "1" } }), timeout]);
    child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
    const r = (await Promise.race([request(2, "tools/call", { name: "whoami", arguments: {} }), timeout])) as { result: { content: { text: string }[] } };
    return r.result.content[0].text;
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function leaves(c: Command): Command[] {
  return c.commands.length === 0 ? [c] : c.commands.flatMap(leaves);
}

// A test runs the CLI (a Node process) several times: seconds each on a loaded 2-core machine.
describe("CLI parity", { timeout: 120_000 }, () => {
  it("every command takes --json", () => {
    const all = leaves(buildProgram());
    expect(all.map((c) => c.name())).toEqual(expect.arrayContaining(["login", "logout", "whoami", "create", "list", "get", "revoke", "refresh", "end", "config"]));
    const without = all.filter((c) => !c.options.some((o) => o.long === "--json")).map((c) => c.name());
    expect(without).toEqual([]);
  });

  it("login records the CLI as a device with its IP; its calls say they are the CLI", async () => {
    const s = await signedIn();
    expect(s.login).toMatchObject({ url: b.url, email: s.email });
    const devices = await s.client.query(api.sessions.listDevices, {});
    expect(devices).toHaveLength(1);
    expect(devices[0].userAgent).toMatch(/^keyhole-cli\/\d+\.\d+\.\d+ \(/);
    expect(devices[0].ipAddress).toBe("127.0.0.1");
    const system = { Linux: "Linux", Darwin: "macOS", Windows_NT: "Windows" }[os.type()] ?? os.type();
    expect(describeUserAgent(devices[0].userAgent)).toBe(`keyhole CLI on ${system}`);

    // A PAT used by the CLI records the CLI as its last user agent.
    const created = JSON.parse(ok(await s.run(["token", "create", "--name", "ci", "--scope", "tokens:read", "--json"])).stdout);
    ok(await s.run(["session", "create", "--agent", "probe", "--json"], { env: { KEYHOLE_TOKEN: created.token } }));
    const details = await s.client.query(api.auth.getApiToken, { tokenId: created.tokenId });
    expect(describeUserAgent(details.lastUsedUserAgent)).toBe(`keyhole CLI on ${system}`);
  });

  it("token list --json and get show the short identifier; no use reads 'none recorded', never 'never'", async () => {
    const s = await signedIn();
    const created = JSON.parse(ok(await s.run(["token", "create", "--name", "quiet", "--scope", "tokens:read", "--json"])).stdout);
    const list = JSON.parse(ok(await s.run(["token", "list", "--json"])).stdout);
    expect(list.tokens[0]).toMatchObject({ name: "quiet", hint: created.token.slice(-6), lastUsedAt: null });
    const get = ok(await s.run(["token", "get", "--name", "quiet"])).stdout;
    expect(get).toContain(`…${created.token.slice(-6)}`);
    expect(get).toMatch(/last used\s+none recorded/);
    expect(get).not.toMatch(/\bnever\b/);
    // `token edit` (= `token update`) renames and redescribes.
    const edited = JSON.parse(ok(await s.run(["token", "edit", "--name", "quiet", "--new-name", "quieter", "-d", "renamed", "--json"])).stdout);
    expect(edited).toMatchObject({ tokenId: created.tokenId, name: "quieter", description: "renamed", hint: created.token.slice(-6) });
  });

  it("mcp config prints a configuration that reaches /mcp as written", async () => {
    const s = await signedIn();
    const created = ok(await s.run(["token", "create", "--name", "claude", "--type", "MCP", "--scope", "tokens:read", "--json"])).stdout;
    const cfg = JSON.parse(ok(await s.run(["mcp", "config", "--json"], { input: created })).stdout);
    const token = (JSON.parse(created) as { token: string }).token;
    expect(cfg.mcpUrl).toBe(`${b.siteUrl}/mcp`);
    expect(cfg.claudeDesktop.mcpServers.keyhole).toEqual({ command: cfg.server.command, args: cfg.server.args, env: cfg.server.env });
    expect(cfg.claudeCode).toBe(`claude mcp add-json keyhole '${JSON.stringify({ command: "npx", args: cfg.server.args, env: cfg.server.env })}'`);

    // Do what mcp-remote does with these args: --header "Authorization:${KEYHOLE_TOKEN}" with the env expanded.
    const args: string[] = cfg.server.args;
    expect(args.slice(0, 3)).toEqual(["-y", "mcp-remote", cfg.mcpUrl]);
    const header = args[args.indexOf("--header") + 1].replace("${KEYHOLE_TOKEN}", cfg.server.env.KEYHOLE_TOKEN);
    const [name, value] = [header.slice(0, header.indexOf(":")), header.slice(header.indexOf(":") + 1)];
    expect(value).toBe(`Bearer ${token}`);
    const res = await fetch(args[2], {
      method: "POST",
      headers: { [name]: value, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain("claude");

    // And the real mcp-remote (what `npx -y mcp-remote …` runs) with exactly these args and env: tools over stdio.
    expect(await viaMcpRemote(args.slice(2), cfg.server.env)).toContain("claude");

    // Human output: both clients; without a token, a placeholder and the signed-in deployment's URL.
    const human = ok(await s.run(["mcp", "config"]));
    expect(human.stdout).toContain(`"${b.siteUrl}/mcp"`);
    expect(human.stdout).toContain("<your keyhole token>");
    expect(human.stdout).toContain("claude mcp add-json keyhole");
    expect(human.stderr).toContain("Claude Desktop");
  });

  it("mcp config without --mcp-url or a login says what to do (exit 1), except for a Convex Cloud URL", async () => {
    const h = homes.make();
    const r = await h.run(["mcp", "config"], { env: { KEYHOLE_URL: b.url } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: cannot tell where \/mcp is/);
    // A Convex Cloud deployment's site is known without a login.
    const cloud = JSON.parse((await h.run(["mcp", "config", "--json"], { env: { KEYHOLE_URL: "https://happy-otter-123.convex.cloud" } })).stdout);
    expect(cloud.mcpUrl).toBe("https://happy-otter-123.convex.site/mcp");
  });

  it("logout --json", async () => {
    const s = await signedIn();
    expect(JSON.parse(ok(await s.run(["logout", "--json"])).stdout)).toEqual({ signedOut: true, url: b.url, serverSignOut: true });
    expect(JSON.parse(ok(await s.run(["logout", "--json"])).stdout)).toMatchObject({ signedOut: false });
  });
});
