// Starts the floor server (bench/floor/main.ts) in its own process.
import { fileURLToPath } from "node:url";
import { startBenchChild, type PeerProcess } from "../peer/spawn";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

export async function startFloorProcess(opts: { keys: number; timeoutMs?: number }): Promise<PeerProcess> {
  return await startBenchChild(MAIN, "FLOOR_READY", opts.timeoutMs, () => ({ PEER_KEYS: String(opts.keys) }));
}
