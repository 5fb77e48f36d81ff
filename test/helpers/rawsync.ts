/**
 * A raw client of the sync protocol (node_modules/convex/src/browser/sync/protocol.ts),
 * for tests that play an attacker: it sends exactly the frames it is told to,
 * where the official ConvexClient would not (a borrowed session id, 8,000
 * queries in one frame, a forged journal).
 */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

export type ServerMessage = { type: string; [k: string]: any };

export class RawSync {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.messages.push(JSON.parse(data.toString()) as ServerMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) =>
      ws.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  /** Opens a socket on `apiUrl` and sends Connect with `sessionId` (default: a fresh one). */
  static async open(apiUrl: string, sessionId: string = randomUUID()): Promise<RawSync> {
    const ws = new WebSocket(`${apiUrl.replace(/^http/, "ws")}/api/1.48.0/sync`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const c = new RawSync(ws);
    c.send({ type: "Connect", sessionId, connectionCount: 0, lastCloseReason: null });
    return c;
  }

  send(msg: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** The first message (received or still to come) that matches; fails after `timeoutMs`. */
  async next(match: (m: ServerMessage) => boolean, timeoutMs = 15_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed; got ${JSON.stringify(this.messages).slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message; got ${JSON.stringify(this.messages).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  authenticate(token: string, baseVersion = 0): void {
    this.send({ type: "Authenticate", baseVersion, tokenType: "User", value: token });
  }

  mutation(requestId: number, udfPath: string, args: Record<string, unknown>): Promise<ServerMessage> {
    this.send({ type: "Mutation", requestId, udfPath, args: [args] });
    return this.next((m) => m.type === "MutationResponse" && m.requestId === requestId);
  }

  close(): void {
    this.ws.terminate();
  }
}
