// mcp-remote (the stdio ↔ remote MCP proxy Claude Desktop and Cursor users
// run) with no header at all: it discovers keyhole's authorization server,
// registers, and opens the browser. Its browser-opening goes through the
// `open` package → xdg-open → $BROWSER; here $BROWSER is a script that hands
// the URL to this test, whose Chromium (signed in) answers the consent
// screen. mcp-remote's own callback server receives the code, and then
// tools/list works over stdio.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { root } from "../browser/harness";
import { approve, type Stack, startStack, WAIT } from "./stack";

let stack: Stack;
let dir: string;
let proxy: ChildProcessWithoutNullStreams | null = null;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-mcp-remote-"));
  stack = await startStack({ browser: true });
}, 180_000);

afterAll(async () => {
  if (proxy && proxy.exitCode === null) {
    const exited = new Promise((r) => proxy!.once("exit", r));
    proxy.kill("SIGTERM");
    await exited;
  }
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the first line `file` gets (the $BROWSER script appends each URL it is asked to open). */
function firstLine(file: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
      if (text.includes("\n")) return resolve(text.split("\n")[0]);
      if (Date.now() - started > timeoutMs) return reject(new Error(`no URL was opened within ${timeoutMs} ms`));
      setTimeout(check, 100);
    };
    check();
  });
}

/** JSON-RPC over the proxy's stdio: one request, its response. */
function rpcOverStdio(child: ChildProcessWithoutNullStreams) {
  let buffer = "";
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as { id?: number };
      if (typeof msg.id === "number") waiting.get(msg.id)?.(msg);
    }
  });
  let nextId = 1;
  return {
    request(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
      const id = nextId++;
      const answered = new Promise<Record<string, unknown>>((r) => waiting.set(id, r));
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
      return answered;
    },
    notify(method: string) {
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method }) + "\n");
    },
  };
}

test("mcp-remote with no header: OAuth via discovery + DCR + consent in Chromium, then tools/list over stdio", { timeout: 120_000 }, async () => {
  const opened = path.join(dir, "opened.txt");
  const browserScript = path.join(dir, "browser.sh");
  fs.writeFileSync(browserScript, `#!/bin/sh\nprintf '%s\\n' "$1" >> "${opened}"\n`, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { ...process.env, BROWSER: browserScript, MCP_REMOTE_CONFIG_DIR: path.join(dir, "config") };
  for (const k of ["DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "KDE_FULL_SESSION", "GNOME_DESKTOP_SESSION_ID"]) delete env[k];
  let stderr = "";
  proxy = spawn(process.execPath, [path.join(root, "node_modules/mcp-remote/dist/proxy.js"), `${stack.site}/mcp`, "--transport", "http-only"], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  proxy.stderr.on("data", (c: Buffer) => (stderr += c.toString()));

  const url = await firstLine(opened, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}\nmcp-remote said:\n${stderr}`);
  });
  const authUrl = new URL(url);
  expect(authUrl.origin + authUrl.pathname).toBe(`${stack.site}/oauth/authorize`);
  expect(authUrl.searchParams.get("client_id")).toMatch(/^khc_/);
  expect(authUrl.searchParams.get("code_challenge_method")).toBe("S256");
  await approve(stack.page!, url, { place: `${stack.person.org}/site` });
  await stack.page!.getByText(/Authorization successful|You can close this window/i).first().waitFor(WAIT);

  const rpc = rpcOverStdio(proxy);
  const init = await rpc.request("initialize", {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "stdio-test", version: "1.0.0" },
  });
  expect(init).toMatchObject({ result: { serverInfo: { name: "keyhole" } } });
  rpc.notify("notifications/initialized");
  const list = (await rpc.request("tools/list")) as { result: { tools: { name: string }[] } };
  expect(list.result.tools.map((t) => t.name)).toContain("get_item");
  const call = (await rpc.request("tools/call", {
    name: "get_item",
    arguments: { workspace: `${stack.person.org}/site`, name: "Signal/temp-1" },
  })) as { result: { content: { text: string }[] } };
  expect(JSON.parse(call.result.content[0].text)).toMatchObject({ data: { celsius: 21 } });
});
