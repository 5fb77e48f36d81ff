// `npm start` as a user runs it (local/start.ts: the embedded backend plus the
// dashboard's Vite dev server), on free ports, driven by Chromium: the page it
// serves reaches its backend, signs up and lists a token created from Node.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { freePort } from "../../bench/lib/ports";
import os from "node:os";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import { launchChromium, root, SCREENSHOTS } from "./harness";

const WAIT = { timeout: 20_000 };

let child: ChildProcess | null = null;
let exited: Promise<unknown> = Promise.resolve();
let output = "";
let dataDir = "";
let browser: Browser | undefined;
const ports = { api: 0, site: 0, web: 0 };

beforeAll(async () => {
  ports.api = await freePort();
  ports.site = await freePort();
  ports.web = await freePort();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-start-"));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["VITE_CONVEX_URL", "VITE_CONVEX_SITE_URL", "CONVEX_SITE_URL", "SITE_URL", "JWT_PRIVATE_KEY", "JWKS", "KEYHOLE_SIGNING_KEY", "KEYHOLE_ENCRYPTION_KEYS"]) {
    delete env[k];
  }
  env.NODE_ENV = "development";
  child = spawn(
    process.execPath,
    ["--import", "tsx", "local/start.ts", "--port", String(ports.api), "--site-port", String(ports.site), "--web-port", String(ports.web), "--data-dir", dataDir],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  exited = new Promise((resolve) => child!.once("exit", resolve));
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes("keyhole is running")) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    const t = setTimeout(() => child?.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

it("serves a dashboard that talks to its own backend", async () => {
  expect(output).toContain(`Dashboard      http://127.0.0.1:${ports.web}`);
  expect(output).not.toContain("not answering");
  const page = await (await browser!.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  await page.goto(`http://127.0.0.1:${ports.web}/`);
  await page.getByRole("button", { name: "Create an account" }).click(WAIT);
  const email = `start-${Date.now()}@example.com`;
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText("No tokens yet").waitFor(WAIT);

  // A token created from Node by the same person shows up live.
  const node = new ConvexHttpClient(`http://127.0.0.1:${ports.api}`, { logger: false });
  const { tokens } = (await node.action(api.auth.signIn, {
    provider: "password",
    params: { email, password: "correct horse battery", flow: "signIn" },
  })) as { tokens: { token: string } };
  node.setAuth(tokens.token);
  await node.mutation(api.auth.createApiToken, { name: "from-node", scopes: [] });
  await page.locator('tr[data-token-name="from-node"]').waitFor(WAIT);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, "00-npm-start.png") });
}, 60_000);
