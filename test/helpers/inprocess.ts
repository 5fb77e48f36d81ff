/**
 * The embedded backend in this process on the test fixture (test/local/fixture),
 * for tests that step into it (wrap engine.call, read sync.work). Free ports,
 * a fresh data dir, no log output; `stop()` closes it and removes the dir.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startBackend, type Backend } from "../../local/backend";

const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "local", "fixture", "convex");

export async function startFixtureBackend(name: string): Promise<{ backend: Backend; stop(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `keyhole-${name}-`));
  const quiet = { info() {}, warn() {}, error() {} };
  const backend = await startBackend({
    port: 0,
    sitePort: 0,
    dataDir,
    convexDir: fixtureDir,
    logger: quiet,
    env: { FIXTURE_ES_JWKS_B64: Buffer.from('{"keys":[]}').toString("base64"), FIXTURE_RS_JWKS: '{"keys":[]}' },
  });
  return {
    backend,
    async stop() {
      await backend.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
