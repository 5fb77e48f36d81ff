// Requests from another loopback source address (127.0.0.x), so the embedded
// backend sees a different client IP, as it would for another machine.
// Linux routes all of 127.0.0.0/8 to loopback.
import http from "node:http";

/**
 * fetch from another loopback source address (127.0.0.x), so the backend
 * sees a different client IP, as it would for a different machine.
 */
export function fetchFrom(localAddress: string): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = (init?.headers ?? {}) as Record<string, string>;
    return await new Promise<Response>((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method: init?.method ?? "GET", headers, localAddress },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: h }));
          });
        },
      );
      req.on("error", reject);
      if (typeof init?.body === "string") req.write(init.body);
      req.end();
    });
  };
}

