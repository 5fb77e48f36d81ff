// Starts the peer (bench/peer/main.ts) in its own process and waits for it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface PeerProcess {
  url: string;
  storage: string;
  keys: string[];
  seedMs: number;
  pid: number;
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

export async function startPeerProcess(opts: {
  keys: number;
  storage?: "sqlite" | "memory";
  /** SQLite's `synchronous` while serving (default NORMAL, the WAL production setting; FULL fsyncs every commit). */
  synchronous?: "NORMAL" | "FULL";
  timeoutMs?: number;
}): Promise<PeerProcess> {
  return await startBenchChild(MAIN, "PEER_READY", opts.timeoutMs, (dir) => ({
    PEER_KEYS: String(opts.keys),
    ...(opts.storage ? { PEER_STORAGE: opts.storage } : {}),
    ...(opts.synchronous ? { PEER_SYNCHRONOUS: opts.synchronous } : {}),
    PEER_DB: join(dir, "peer.db"),
  }));
}

/**
 * Starts a benchmark server (`main`) in its own process and waits for the
 * line `<tag> {json}`; the server writes its key texts, one a line, to
 * $PEER_KEYS_FILE.
 */
export async function startBenchChild(
  main: string,
  tag: string,
  timeoutMs: number | undefined,
  env: (dir: string) => Record<string, string>,
): Promise<PeerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "keyhole-peer-"));
  const keysFile = join(dir, "keys.txt");
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", main], {
    env: { ...process.env, PEER_KEYS_FILE: keysFile, ...env(dir) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<{ url: string; storage: string; seedMs: number }>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`${tag}: not ready in time\n${stderr}`)), timeoutMs ?? 900_000);
      child.stdout!.on("data", (d) => {
        out += String(d);
        const m = new RegExp(`${tag} (\\{.*\\})\\n`).exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(JSON.parse(m[1]));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${tag}: exited (${code})\n${stderr}`));
      });
    });
    const keys = readFileSync(keysFile, "utf8").split("\n").filter(Boolean);
    return { ...ready, keys, pid: child.pid!, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
