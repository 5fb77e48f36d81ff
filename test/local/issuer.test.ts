// A stable issuer for keyhole tokens: KEYHOLE_ISSUER, generated once and
// kept, independent of the site URL — so a new port, a custom domain, a move
// to another deployment or a trailing slash on CONVEX_SITE_URL does not
// invalidate every PAT (they live up to a year).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { keyholeIssuer } from "../../convex/model/issuer";
import { freePort } from "../../bench/lib/ports";
import { generateEnv, loadOrCreateEnvFile } from "../../local/env";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { passwordSignUp } from "../helpers/signup";

const saved = { KEYHOLE_ISSUER: process.env.KEYHOLE_ISSUER, CONVEX_SITE_URL: process.env.CONVEX_SITE_URL };
const dirs: string[] = [];
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-issuer-"));
  dirs.push(d);
  return d;
}

describe("keyholeIssuer()", () => {
  test("is KEYHOLE_ISSUER, whatever the site URL, without trailing slashes", () => {
    process.env.KEYHOLE_ISSUER = "https://keyhole.invalid/abc";
    process.env.CONVEX_SITE_URL = "https://one.convex.site";
    const first = keyholeIssuer();
    process.env.CONVEX_SITE_URL = "https://custom.example.com/";
    expect(keyholeIssuer()).toBe(first);
    process.env.KEYHOLE_ISSUER = "https://keyhole.invalid/abc//";
    expect(keyholeIssuer()).toBe("https://keyhole.invalid/abc");
  });

  test("is required, and must be an http(s) URL as Convex requires of a customJwt issuer", () => {
    delete process.env.KEYHOLE_ISSUER;
    expect(() => keyholeIssuer()).toThrow(/KEYHOLE_ISSUER is not set/);
    for (const bad of ["urn:keyhole:x", "keyhole", "ftp://x.example/k", " "]) {
      process.env.KEYHOLE_ISSUER = bad;
      expect(() => keyholeIssuer(), bad).toThrow(/KEYHOLE_ISSUER/);
    }
  });

  test("auth.config.ts trusts exactly that issuer, and a trailing slash on CONVEX_SITE_URL breaks nothing", async () => {
    process.env.KEYHOLE_ISSUER = "https://keyhole.invalid/abc/";
    process.env.CONVEX_SITE_URL = "https://happy-otter-123.convex.site/";
    vi.resetModules();
    const config = (await import("../../convex/auth.config")).default as unknown as { providers: Record<string, string>[] };
    const custom = config.providers.find((p) => p.applicationID === "keyhole")!;
    expect(custom.issuer).toBe("https://keyhole.invalid/abc");
    expect(custom.issuer).toBe(keyholeIssuer());
    expect(custom.jwks).toBe("https://happy-otter-123.convex.site/keyhole/jwks.json");
  });
});

describe("generated once and kept (embedded backend, npm run env:generate)", () => {
  test("generateEnv() makes a fresh http(s) issuer; two installations get different ones", async () => {
    const [a, b] = [await generateEnv(), await generateEnv()];
    expect(a.KEYHOLE_ISSUER).toMatch(/^https:\/\/keyhole\.invalid\/[A-Za-z0-9_-]{16,}$/);
    expect(a.KEYHOLE_ISSUER).not.toBe(b.KEYHOLE_ISSUER);
  });

  test("env.json: a new data dir gets a generated issuer, kept on every start", async () => {
    const dir = tempDir();
    const legacyIssuer = "http://127.0.0.1:3211/keyhole";
    const first = await loadOrCreateEnvFile(dir, { legacyIssuer });
    expect(first.env.KEYHOLE_ISSUER).toMatch(/^https:\/\/keyhole\.invalid\//);
    const again = await loadOrCreateEnvFile(dir, { legacyIssuer: "http://127.0.0.1:9999/keyhole" });
    expect(again.env.KEYHOLE_ISSUER).toBe(first.env.KEYHOLE_ISSUER);
  });

  test("env.json from before KEYHOLE_ISSUER existed is pinned to the issuer its tokens carry", async () => {
    const dir = tempDir();
    await loadOrCreateEnvFile(dir, { legacyIssuer: "x" });
    const file = path.join(dir, "env.json");
    const old = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    delete old.KEYHOLE_ISSUER;
    fs.writeFileSync(file, JSON.stringify(old));
    const upgraded = await loadOrCreateEnvFile(dir, { legacyIssuer: "http://127.0.0.1:3211/keyhole" });
    expect(upgraded.env.KEYHOLE_ISSUER).toBe("http://127.0.0.1:3211/keyhole");
    expect(JSON.parse(fs.readFileSync(file, "utf8")).KEYHOLE_ISSUER).toBe("http://127.0.0.1:3211/keyhole");
    expect(upgraded.env.KEYHOLE_SIGNING_KEY).toBe(old.KEYHOLE_SIGNING_KEY);
  });
});

describe("a PAT survives moving the backend to another site URL", { timeout: 120_000 }, () => {
  let b: SpawnedBackend | undefined;
  afterEach(async () => {
    await b?.stop();
    b = undefined;
  });

  test("new ports (a new CONVEX_SITE_URL): the same PAT still works with ConvexHttpClient and the HTTP API", async () => {
    const dataDir = tempDir();
    b = await spawnBackend({ dataDir });
    const { token: jwt } = await passwordSignUp(b, "mover@example.com");
    const pat = await b.httpClient(jwt).mutation(api.auth.createApiToken, { name: "long-lived", scopes: [] });
    const firstSite = b.siteUrl;
    await b.stop();

    const firstPort = Number(new URL(firstSite).port);
    let sitePort = await freePort();
    while (sitePort === firstPort) sitePort = await freePort();
    b = await spawnBackend({ dataDir, sitePort });
    expect(b.siteUrl).not.toBe(firstSite);
    expect(await b.httpClient(pat.token).query(api.auth.viewer, {})).toMatchObject({ kind: "pat", tokenId: pat.tokenId });
    const who = await fetch(`${b.siteUrl}/api/whoami`, { headers: { Authorization: `Bearer ${pat.token}` } });
    expect(who.status).toBe(200);
  });
});
