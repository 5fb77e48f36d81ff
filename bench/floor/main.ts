// The floor: the least an HTTP server must do to verify keyhole-style bearer
// tokens — a bare node:http server doing, per request, one jose ES256
// signature check, one SHA-256 of the token and one Map lookup of the record
// (revocation / expiry fields checked), then a small JSON reply. No database,
// no durability, no framework: what is left when everything that does not
// check the token is gone. Same process model as the peer (its own process,
// loaded by bench/lib/load.ts).
//
// Env: PEER_KEYS (count), PEER_KEYS_FILE (where to write the tokens, one a line).
// Prints `FLOOR_READY {json}` when serving.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";

const count = Number(process.env.PEER_KEYS ?? "1000");
const keysFile = process.env.PEER_KEYS_FILE;
if (!keysFile) throw new Error("PEER_KEYS_FILE is required");

const ISSUER = "https://floor.keyhole.test";
const { privateKey, publicKey } = await generateKeyPair("ES256");
const records = new Map<string, { id: string; userId: string; revokedAt?: number; expiresAt: number }>();
const tokens: string[] = [];
const started = Date.now();
for (let i = 0; i < count; i++) {
  const id = `tok${i}`;
  const token = await new SignJWT({ kind: "pat" })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(ISSUER)
    .setAudience("keyhole")
    .setSubject(`pat:${id}`)
    .setIssuedAt()
    .setExpirationTime("30d")
    .sign(privateKey);
  records.set(createHash("sha256").update(token).digest("base64url"), { id, userId: `user${i % 50}`, expiresAt: Date.now() + 30 * 86_400_000 });
  tokens.push(token);
}
const seedMs = Date.now() - started;
writeFileSync(keysFile, tokens.join("\n"), { mode: 0o600 });

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  void (async () => {
    const h = req.headers.authorization ?? "";
    if (req.method !== "GET" || req.url !== "/api/whoami") return send(res, 404, { error: "not_found" });
    const token = h.startsWith("Bearer ") ? h.slice(7).trim() : "";
    try {
      const { payload } = await jwtVerify(token, publicKey, { issuer: ISSUER, audience: "keyhole", algorithms: ["ES256"] });
      const rec = records.get(createHash("sha256").update(token).digest("base64url"));
      if (!rec || `pat:${rec.id}` !== payload.sub || rec.revokedAt !== undefined || rec.expiresAt <= Date.now()) {
        return send(res, 401, { error: "unauthenticated" });
      }
      return send(res, 200, { kind: "pat", userId: rec.userId, tokenId: rec.id });
    } catch {
      return send(res, 401, { error: "unauthenticated" });
    }
  })();
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const { port } = server.address() as AddressInfo;
process.stdout.write(`FLOOR_READY ${JSON.stringify({ url: `http://127.0.0.1:${port}`, storage: "in memory", keys: count, seedMs })}\n`);
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
