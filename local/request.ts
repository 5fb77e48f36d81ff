/**
 * What the API port (api.ts) and the site port (site.ts) share: reading a
 * bounded body, answering JSON, the Host check, and the request's identity.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { UserIdentity } from "convex/server";
import { HOST_REFUSED, type HostPolicy } from "./hosts.js";
import { AuthError, type IdentityVerifier } from "./identity.js";

export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      reject(new HttpError(413, "RequestTooLarge", `Request body is larger than ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, "RequestTooLarge", `Request body is larger than ${limit} bytes`));
        return; // keep draining so the response can be read by the client
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) reject(e);
      failed = true;
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Answers 403 to a foreign Host name (hosts.ts); true when it did. */
export function refuseHost(hosts: HostPolicy, req: IncomingMessage, res: ServerResponse): boolean {
  if (hosts.allows(req.headers.host)) return false;
  res.writeHead(403, { "Content-Type": "text/plain", Connection: "close" }).end(HOST_REFUSED);
  return true;
}

/**
 * The request's identity. `/api/*` (strict) refuses a rejected token with
 * 401 as Convex does (crates/local_backend/src/authentication.rs,
 * ExtractIdentity). An HTTP action runs anyway, with the rejection kept so
 * its getUserIdentity() throws (rejected.ts); as on Convex, any
 * Authorization header that is not a valid `Bearer <JWT>` counts
 * (ExtractAuthenticationToken refuses other schemes).
 */
export async function identityFrom(
  verifier: IdentityVerifier,
  req: IncomingMessage,
  strict: boolean,
): Promise<{ identity: UserIdentity | null; rejected?: string }> {
  const h = req.headers.authorization;
  if (h === undefined) return { identity: null };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) {
    const message = "Unsupported Authorization header (expected `Bearer <JWT>`)";
    if (strict) throw new HttpError(401, "Unauthenticated", message);
    return { identity: null, rejected: message };
  }
  try {
    return { identity: (await verifier.verify(m[1]!)).identity };
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    if (strict) throw new HttpError(401, "Unauthenticated", e.message);
    return { identity: null, rejected: e.message };
  }
}

export function hostForUrl(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((r) => server.close(() => r()));
}
