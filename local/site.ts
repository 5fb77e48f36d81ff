/**
 * The site port: HTTP actions from convex/http.ts, streamed back as the
 * router answers them.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingMessage, ServerResponse } from "node:http";
import { toFunctionError } from "./engine.js";
import type { Booted } from "./boot.js";
import type { Logger } from "./log.js";
import { HttpError, identityFrom, MAX_BODY_BYTES, readBody, refuseHost, sendJson } from "./request.js";
import { clientIp } from "./sync.js";

// t.fetch builds its Request on the fake host `some.convex.site`; while we
// serve a site request, rewrite that origin to the one the client used, so
// HTTP actions see the real URL (request.url) too.
export const siteOrigin = new AsyncLocalStorage<string>();
let requestPatched = false;
export function patchRequestUrl() {
  if (requestPatched) return;
  requestPatched = true;
  const Original = globalThis.Request;
  class SiteRequest extends Original {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      const origin = siteOrigin.getStore();
      if (origin && input instanceof URL && input.host === "some.convex.site") {
        input = new URL(input.pathname + input.search, origin);
      }
      super(input, init);
    }
    static [Symbol.hasInstance](x: unknown) {
      return x instanceof Original;
    }
  }
  globalThis.Request = SiteRequest as typeof Request;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]);

/** Waits for the boot to finish (`booted`), then serves one HTTP action. */
export async function handleSite(booted: Promise<Booted>, log: Logger, req: IncomingMessage, res: ServerResponse) {
  try {
    const s = await booted;
    if (refuseHost(s.hosts, req, res)) return;
    const method = req.method ?? "GET";
    const body = method === "GET" || method === "HEAD" ? undefined : await readBody(req, MAX_BODY_BYTES);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
    }
    const { identity, rejected } = await identityFrom(s.verifier, req, false);
    const origin = `http://${req.headers.host ?? new URL(s.siteUrl).host}`;
    const response = await siteOrigin.run(origin, () =>
      s.engine.fetch(
        req.url ?? "/",
        { method, headers, body: body as BodyInit | undefined },
        { identity, rejected, ip: clientIp(req), userAgent: req.headers["user-agent"] ?? null },
      ),
    );
    await sendResponse(response, method, res);
  } catch (e) {
    if (e instanceof HttpError) {
      sendJson(res, e.status, { code: e.code, message: e.message });
      return;
    }
    const fe = toFunctionError(e);
    log.error(`http action ${req.method} ${(req.url ?? "").split("?")[0]}: ${fe.message}`);
    if (!res.headersSent) {
      res.writeHead(500, { "Content-Type": "text/plain" }).end("Server Error");
    } else {
      res.destroy();
    }
  }
}

async function sendResponse(response: Response, method: string, res: ServerResponse) {
  const outHeaders: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") outHeaders[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) outHeaders["set-cookie"] = cookies;
  delete outHeaders["content-length"];
  delete outHeaders["content-encoding"];
  // Corked until the body ends or the next turn of the event loop, whichever
  // comes first: a body that is ready at once (JSON) leaves in one write with
  // its headers and the end, as a plain node:http server sends it; a stream
  // that waits (server-sent events) is uncorked a turn later, so nothing it
  // wrote is held back.
  res.cork();
  let corked = true;
  const uncork = () => {
    if (corked) res.uncork();
    corked = false;
  };
  const nextTurn = setImmediate(uncork);
  try {
    res.writeHead(response.status, response.statusText, outHeaders);
    if (response.body && method !== "HEAD") {
      // Streamed (e.g. server-sent events); stop when the client goes away.
      const reader = response.body.getReader();
      res.on("close", () => void reader.cancel().catch(() => {}));
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!res.write(value)) await new Promise((r) => res.once("drain", r));
      }
    }
    res.end();
  } finally {
    clearImmediate(nextTurn);
    uncork();
  }
}
