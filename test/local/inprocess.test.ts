// The programmatic API: startBackend() in this process, on free ports.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import { expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { startBackend } from "../../local/backend";

test("startBackend() serves the HTTP client and closes cleanly", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-inproc-"));
  const lines: string[] = [];
  const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const b = await startBackend({ port: 0, sitePort: 0, dataDir, logger });
  try {
    expect(b.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(b.siteUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.CONVEX_SITE_URL).toBe(b.siteUrl);
    const http = new ConvexHttpClient(b.url, { logger: false });
    expect(await http.query(api.auth.isAuthenticated, {})).toBe(false);
    const discovery = (await (await fetch(`${b.siteUrl}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    expect(discovery.issuer).toBe(b.siteUrl);
    expect(b.startupMs).toBeGreaterThan(0);
  } finally {
    await b.close();
  }
  // The data dir lock is released, so another backend can take it.
  expect(fs.existsSync(path.join(dataDir, "LOCK"))).toBe(false);
  fs.rmSync(dataDir, { recursive: true, force: true });
});
