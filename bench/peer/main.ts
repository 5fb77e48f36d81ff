// Child-process entry for the peer, so it runs in its own process like the
// embedded backend does. Env: PEER_KEYS (count), PEER_STORAGE (sqlite|memory),
// PEER_DB (file, default in-memory SQLite), PEER_KEYS_FILE (where to write the
// key texts, one a line), PEER_SYNCHRONOUS (NORMAL | FULL while serving; the
// keys are seeded with NORMAL either way; `POST /__bench/synchronous/FULL`
// switches a running peer). Prints one line `PEER_READY {json}` when serving.
import { writeFileSync } from "node:fs";
import { createPeerAuth, seedPeerKeys, type PeerStorage } from "./auth";
import { startPeerServer } from "./server";

const count = Number(process.env.PEER_KEYS ?? "1000");
const keysFile = process.env.PEER_KEYS_FILE;
if (!keysFile) throw new Error("PEER_KEYS_FILE is required");

const peer = await createPeerAuth({
  storage: process.env.PEER_STORAGE as PeerStorage | undefined,
  dbFile: process.env.PEER_DB,
});
const started = Date.now();
const keys = await seedPeerKeys(peer, count);
const seedMs = Date.now() - started;
writeFileSync(keysFile, keys.join("\n"), { mode: 0o600 });
const synchronous = process.env.PEER_SYNCHRONOUS === "FULL" ? "FULL" : "NORMAL";
peer.setSynchronous(synchronous);
const server = await startPeerServer(peer);
const storage = peer.storage === "sqlite" ? "SQLite WAL" : peer.storage;
process.stdout.write(`PEER_READY ${JSON.stringify({ url: server.url, storage, keys: count, seedMs })}\n`);

const stop = async () => {
  await server.close();
  peer.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
