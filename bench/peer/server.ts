// Serves the peer over loopback HTTP with the same shape as keyhole's
// `GET /api/whoami` (Authorization: Bearer <key>), so the benchmark compares
// HTTP with HTTP at the same concurrency.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyPeerKey, type PeerAuth } from "./auth";

export async function startPeerServer(peer: PeerAuth, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void handle(peer, req, res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(peer: PeerAuth, req: http.IncomingMessage, res: http.ServerResponse) {
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  try {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // Benchmark control (loopback only): the same keys, served with another durability setting.
    const sync = /^\/__bench\/synchronous\/(NORMAL|FULL)$/.exec(url.pathname);
    if (req.method === "POST" && sync) {
      peer.setSynchronous(sync[1] as "NORMAL" | "FULL");
      return send(200, { synchronous: sync[1] });
    }
    if (req.method !== "GET" || url.pathname !== "/api/whoami") return send(404, { error: "not_found" });
    const header = req.headers.authorization ?? "";
    const key = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!key) return send(401, { error: "unauthenticated" });
    const who = await verifyPeerKey(peer, key);
    if (!who) return send(401, { error: "unauthenticated" });
    return send(200, { kind: "api-key", userId: who.userId, keyId: who.keyId });
  } catch {
    return send(500, { error: "internal" });
  }
}
