// What `npm start` serves, tried as a web page and an attacker would:
// - no server (API, site, dashboard — built or dev server) ever returns the
//   data dir's secrets, whatever the path (`/@fs/…/env.json`, `/.keyhole/env.json`,
//   dot-dot and encoded variants);
// - every port refuses a foreign Host name (DNS rebinding), socket upgrades included,
//   and still answers under 127.0.0.1 / localhost.
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { freePort } from "../../bench/lib/ports";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import WebSocket from "ws";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

type Started = { ports: { api: number; site: number; web: number }; dataDir: string; child: ChildProcess; output: () => string };
const started: Started[] = [];

/** `npm start` (local/start.ts) on free ports, its data dir inside the repo like the default `.keyhole`. */
async function npmStart(extra: string[]): Promise<Started> {
  const ports = { api: await freePort(), site: await freePort(), web: await freePort() };
  const dataDir = path.join(root, ".keyhole", `served-test-${crypto.randomUUID()}`);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "development" };
  for (const k of ["VITE_CONVEX_URL", "CONVEX_SITE_URL", "SITE_URL", "KEYHOLE_ALLOWED_HOSTS", "JWT_PRIVATE_KEY", "JWKS", "KEYHOLE_SIGNING_KEY", "KEYHOLE_ENCRYPTION_KEYS"]) {
    delete env[k];
  }
  const args = ["--import", "tsx", "local/start.ts", "--port", String(ports.api), "--site-port", String(ports.site), "--web-port", String(ports.web), "--data-dir", dataDir, ...extra];
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const s: Started = { ports, dataDir, child, output: () => output };
  started.push(s);
  const deadline = Date.now() + 90_000;
  while (!output.includes("keyhole is running")) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return s;
}

afterAll(async () => {
  for (const s of started) {
    if (s.child.exitCode === null) {
      const exited = new Promise((r) => s.child.once("exit", r));
      s.child.kill("SIGTERM");
      const t = setTimeout(() => s.child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
});

/** A GET with the path sent exactly as given (no normalization) and any Host header. */
function rawGet(port: number, rawPath: string, host = `127.0.0.1:${port}`): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: rawPath, method: "GET", headers: { Host: host } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function secretsOf(dataDir: string): string[] {
  const env = JSON.parse(fs.readFileSync(path.join(dataDir, "env.json"), "utf8")) as Record<string, string>;
  const ec = JSON.parse(env.KEYHOLE_SIGNING_KEY!) as { d: string };
  return [ec.d, env.JWT_PRIVATE_KEY!.slice(40, 100), env.KEYHOLE_ENCRYPTION_KEYS!.split(":")[1]!, "KEYHOLE_SIGNING_KEY"];
}

function probePaths(dataDir: string): string[] {
  const rel = path.relative(root, dataDir);
  return [
    `/@fs${dataDir}/env.json`,
    `/@fs${root}/${rel}/env.json`,
    `/@fs${dataDir}/journal.log`,
    `/@fs${dataDir}/snapshot.jsonl`,
    `/${rel}/env.json`,
    "/.keyhole/env.json",
    `/../${rel}/env.json`,
    `/../../${rel}/env.json`,
    `/%2e%2e/%2e%2e/${rel}/env.json`,
    `/..%2f..%2f${rel.replace(/\//g, "%2f")}%2fenv.json`,
    `/@fs${root}/local/env.ts`,
  ];
}

async function expectNoSecrets(s: Started) {
  const secrets = secretsOf(s.dataDir);
  for (const port of Object.values(s.ports)) {
    for (const p of probePaths(s.dataDir)) {
      const r = await rawGet(port, p);
      for (const secret of secrets) expect(r.body.includes(secret), `${port} ${p} (${r.status}) leaks a secret`).toBe(false);
      expect(r.body, `${port} ${p}`).not.toContain("generateEnv"); // nor source outside the dashboard
    }
  }
}

async function expectForeignHostsRefused(s: Started) {
  for (const [name, port] of Object.entries(s.ports)) {
    const foreign = await rawGet(port, "/", "rebind.example");
    expect({ name, status: foreign.status }).toEqual({ name, status: 403 });
    expect((await rawGet(port, "/", `rebind.example:${port}`)).status).toBe(403);
    for (const own of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      expect({ name, own, status: (await rawGet(port, "/", own)).status }).not.toEqual({ name, own, status: 403 });
    }
  }
  // The sync socket too.
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.ports.api}/api/1.48.0/sync`, { headers: { Host: "rebind.example" } });
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.once("open", () => {
      ws.terminate();
      resolve(101);
    });
    ws.once("error", () => resolve(-1));
  });
  expect(refused).toBe(403);
}

describe("npm start (built dashboard)", () => {
  let s: Started;
  test("starts, building the dashboard if needed", async () => {
    s = await npmStart([]);
    expect(s.output()).toContain(`Dashboard      http://127.0.0.1:${s.ports.web}`);
    const index = await rawGet(s.ports.web, "/");
    expect(index.status).toBe(200);
    expect(index.body).toContain("<div id=\"root\">");
    expect(JSON.parse((await rawGet(s.ports.web, "/config.json")).body)).toEqual({
      convexUrl: `http://127.0.0.1:${s.ports.api}`,
      githubSignIn: false,
    });
  }, 120_000);

  test("no server returns the data dir's secrets or files outside the dashboard", async () => {
    await expectNoSecrets(s);
  });

  test("every port refuses a foreign Host name", async () => {
    await expectForeignHostsRefused(s);
  });
});

describe("npm start --dev-web (Vite dev server)", () => {
  let s: Started;
  test("starts the dev server, confined to web/", async () => {
    s = await npmStart(["--dev-web"]);
    expect(s.output()).toContain("(dev server)");
    expect((await rawGet(s.ports.web, "/")).status).toBe(200);
    // What the dashboard imports is served; the rest of the repo is not.
    expect((await rawGet(s.ports.web, `/@fs${root}/convex/model/scopes.ts`)).status).toBe(200);
    for (const p of [`/@fs${root}/package.json`, `/@fs${root}/local/backend.ts`, `/@fs${s.dataDir}/env.json`]) {
      expect({ p, status: (await rawGet(s.ports.web, p)).status }).toEqual({ p, status: 403 });
    }
  }, 120_000);

  test("no server returns the data dir's secrets", async () => {
    await expectNoSecrets(s);
  });

  test("the dev server refuses a foreign Host name too", async () => {
    await expectForeignHostsRefused(s);
  });
});
