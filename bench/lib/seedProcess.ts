// Runs bench/lib/seed-main.ts in a child process (the seeding backend binds
// ports and sets process env, so keep it out of the benchmark's process).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SeedResult } from "./seed";

const MAIN = fileURLToPath(new URL("./seed-main.ts", import.meta.url));

export async function seedInChild(opts: {
  dataDir: string;
  sitePort: number;
  tokens: number;
  auditEvents?: number;
  /** PATs 500 per transaction (seed.ts `bulk`). */
  bulk?: boolean;
}): Promise<SeedResult> {
  const tmp = mkdtempSync(join(tmpdir(), "keyhole-seed-"));
  const out = join(tmp, "seed.json");
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SEED_DIR: opts.dataDir,
      SEED_SITE_PORT: String(opts.sitePort),
      SEED_TOKENS: String(opts.tokens),
      SEED_AUDIT: String(opts.auditEvents ?? 0),
      SEED_BULK: opts.bulk ? "1" : "",
      SEED_OUT: out,
    };
    for (const k of ["CONVEX_SITE_URL", "SITE_URL", "KEYHOLE_SIGNING_KEY", "KEYHOLE_ENCRYPTION_KEYS", "JWT_PRIVATE_KEY", "JWKS"]) delete env[k];
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (d) => (log += String(d)));
    child.stderr.on("data", (d) => (log += String(d)));
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    if (code !== 0) throw new Error(`seeding failed (${code}):\n${log.slice(-4000)}`);
    return JSON.parse(readFileSync(out, "utf8")) as SeedResult;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
