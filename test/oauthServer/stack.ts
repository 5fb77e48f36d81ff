/**
 * A real stack for the OAuth authorization-server tests: the embedded backend
 * (SITE_URL pointing at the dashboard, so /oauth/authorize sends the browser
 * to the real consent screen), the production build of the dashboard, a
 * person with an org, a workspace and an item, and — for browser tests —
 * Chromium signed in as that person through the sign-in form.
 *
 * `callbackServer()` is the client's loopback redirect URI; `approve()` drives
 * Chromium from an authorization URL through the consent screen.
 */
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { generate } from "selfsigned";
import { api } from "../../convex/_generated/api";
import { buildDashboard, launchChromium, serveDashboard } from "../browser/harness";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { PASSWORD, signUpFresh } from "../helpers/signup";

export const WAIT = { timeout: 20_000 };

export type Person = { email: string; token: string; org: string };

export type Stack = {
  backend: SpawnedBackend;
  site: string;
  web: { url: string; stop: () => Promise<void> };
  person: Person;
  browser?: Browser;
  page?: Page;
  stop: () => Promise<void>;
};

let counter = 0;

/** A person with org `<org>` (owner), workspace `<org>/site` and item `Signal/temp-1` = {celsius: 21}. */
export async function personWithOrg(b: SpawnedBackend, prefix = "oauth"): Promise<Person> {
  const { email, token } = await signUpFresh(b, prefix);
  const org = `${prefix}-${++counter}-${Date.now().toString(36)}`.toLowerCase();
  const c = b.httpClient(token);
  await c.mutation(api.orgs.create, { slug: org, name: `Org ${org}` });
  await c.mutation(api.workspaces.create, { org, slug: "site", name: "Site" });
  await c.mutation(api.items.put, { workspace: `${org}/site`, name: "Signal/temp-1", data: { celsius: 21 } });
  return { email, token, org };
}

function placeholderDashboard(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-web-stub-"));
  fs.writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>keyhole</title>");
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function startStack(opts: { browser?: boolean; env?: Record<string, string> } = {}): Promise<Stack> {
  // Without a browser nothing renders the dashboard: a placeholder page stands in for the build.
  const build = opts.browser ? await buildDashboard() : placeholderDashboard();
  let convexUrl = "http://127.0.0.1:1";
  const web = await serveDashboard(build.dir, () => ({ convexUrl }));
  const backend = await spawnBackend({ env: { SITE_URL: web.url, ...opts.env } });
  convexUrl = backend.url;
  const person = await personWithOrg(backend);
  let browser: Browser | undefined;
  let page: Page | undefined;
  if (opts.browser) {
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    await page.goto(web.url);
    await page.getByLabel("Email").fill(person.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor(WAIT);
  }
  return {
    backend,
    site: backend.siteUrl,
    web,
    person,
    browser,
    page,
    stop: async () => {
      await browser?.close();
      await web.stop();
      await backend.stop();
      build.cleanup();
    },
  };
}

/**
 * Opens `authorizationUrl` in Chromium (signed in) and answers the consent
 * screen: where (an `<option>` value: "" = all orgs, "org", "org/ws"),
 * which requested permissions to leave unchecked, allow or deny.
 */
export async function approve(
  page: Page,
  authorizationUrl: string,
  choice: { place?: string; uncheck?: string[]; deny?: boolean; expectClient?: string } = {},
): Promise<void> {
  await page.goto(authorizationUrl);
  await page.getByRole("heading", { name: /^Allow .* to use keyhole\?$/ }).waitFor(WAIT);
  if (choice.expectClient) await page.getByRole("heading", { name: `Allow ${choice.expectClient} to use keyhole?` }).waitFor(WAIT);
  if (choice.place !== undefined) await page.getByLabel("Where it may act").selectOption(choice.place);
  for (const p of choice.uncheck ?? []) await page.locator(`input[type=checkbox][name="${p}"]`).uncheck();
  await page.getByRole("button", { name: choice.deny ? "Deny" : "Allow", exact: true }).click();
  // The dashboard sends the browser back to the client: wait until it has left the consent screen.
  await page.waitForURL((u) => !u.hash.startsWith("#/consent"), WAIT);
}

/** A loopback redirect URI that records what the authorization server sends back. */
export async function callbackServer(): Promise<{ url: string; next: () => Promise<URLSearchParams>; stop: () => Promise<void> }> {
  const waiting: ((p: URLSearchParams) => void)[] = [];
  const arrived: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    if (u.pathname !== "/callback") {
      res.writeHead(404).end(); // e.g. the browser's /favicon.ico
      return;
    }
    const params = u.searchParams;
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("Done: you can close this window.");
    const w = waiting.shift();
    if (w) w(params);
    else arrived.push(params);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    next: () => {
      const ready = arrived.shift();
      return ready ? Promise.resolve(ready) : new Promise((r) => waiting.push(r));
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A self-signed certificate for 127.0.0.1 (made in-process by `selfsigned`:
 * no openssl binary needed), for an https test server; `caFile` goes in
 * NODE_EXTRA_CA_CERTS.
 */
export async function selfSignedCert(): Promise<{ key: string; cert: string; caFile: string; cleanup: () => void }> {
  const pems = await generate([{ name: "commonName", value: "127.0.0.1" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-cert-"));
  const caFile = path.join(dir, "cert.pem");
  fs.writeFileSync(caFile, pems.cert);
  return { key: pems.private, cert: pems.cert, caFile, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** An https server on 127.0.0.1 serving client metadata documents; counts fetches per path. */
export async function metadataServer(
  tls: { key: string; cert: string },
  documents: (origin: string) => Record<string, unknown>,
): Promise<{ origin: string; fetches: Map<string, number>; stop: () => Promise<void> }> {
  const fetches = new Map<string, number>();
  let origin = "";
  const server = https.createServer(tls, (req, res) => {
    const p = new URL(req.url ?? "/", "https://x").pathname;
    fetches.set(p, (fetches.get(p) ?? 0) + 1);
    const doc = documents(origin)[p];
    if (doc === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (typeof doc === "object" && doc !== null && "redirectTo" in doc) {
      res.writeHead(302, { Location: String((doc as { redirectTo: string }).redirectTo) }).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "max-age=600" });
    res.end(typeof doc === "string" ? doc : JSON.stringify(doc));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    fetches,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** POSTs a form to one of the authorization server's endpoints. */
export async function postForm(site: string, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${site}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // an empty 200 (revocation)
  }
  return { status: res.status, json, headers: res.headers };
}
