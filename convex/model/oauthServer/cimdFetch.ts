"use node";
/**
 * Fetches a Client ID Metadata Document with SSRF guards (Node runtime: it
 * needs DNS, which the Convex isolate has not):
 *
 * - https only; the URL already passed cimdUrlProblem();
 * - the host name is resolved first, and EVERY address must be public unicast
 *   (loopback too only in local development); the connection then goes to
 *   the checked address (a pinned lookup), so a second DNS answer cannot
 *   point it elsewhere (DNS rebinding);
 * - redirects are not followed (a document must live at its own URL);
 * - at most CIMD_MAX_BYTES, and CIMD_TIMEOUT_MS for everything;
 * - no cookies, no credentials, nothing of the request is logged.
 */
import { lookup } from "node:dns/promises";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { addressAllowed, cacheSeconds, CIMD_MAX_BYTES, CIMD_TIMEOUT_MS } from "./cimd";

export type FetchedDocument = { ok: true; body: string; maxAgeS: number } | { ok: false; reason: string };

/** The addresses `host` resolves to, all checked; the first one is connected to. */
async function checkedAddress(host: string, allowLoopback: boolean): Promise<{ address: string; family: number } | string> {
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  const addresses = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await lookup(bare, { all: true, verbatim: true });
  if (addresses.length === 0) return "the client_id host does not resolve";
  for (const a of addresses) {
    if (!addressAllowed(a.address, allowLoopback)) return "the client_id host resolves to a private or reserved address";
  }
  return addresses[0];
}

function get(url: URL, pinned: { address: string; family: number }, signal: AbortSignal): Promise<FetchedDocument> {
  const pinnedLookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  return new Promise((resolve) => {
    const req = https.get(
      url,
      {
        lookup: pinnedLookup,
        signal,
        headers: { Accept: "application/json", "User-Agent": "keyhole-oauth (client metadata)" },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          resolve({ ok: false, reason: status >= 300 && status < 400 ? "the client_id URL redirects (not followed)" : `the client_id URL answered HTTP ${status}` });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > CIMD_MAX_BYTES) {
            req.destroy();
            resolve({ ok: false, reason: `the client metadata document is larger than ${CIMD_MAX_BYTES} bytes` });
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => {
          const cc = res.headers["cache-control"];
          resolve({ ok: true, body: Buffer.concat(chunks).toString("utf8"), maxAgeS: cacheSeconds(typeof cc === "string" ? cc : null) });
        });
        res.on("error", () => resolve({ ok: false, reason: "the client metadata document could not be read" }));
      },
    );
    req.on("error", () => resolve({ ok: false, reason: "the client_id URL could not be fetched" }));
  });
}

/** Fetches `clientId` (an https URL that passed cimdUrlProblem) under the guards above. */
export async function fetchClientMetadataDocument(clientId: string, opts: { allowLoopback: boolean }): Promise<FetchedDocument> {
  const url = new URL(clientId);
  if (url.protocol !== "https:") return { ok: false, reason: "a client_id URL must use https" };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), CIMD_TIMEOUT_MS);
  try {
    const timeout = new Promise<string>((resolve) => controller.signal.addEventListener("abort", () => resolve("timed out resolving the client_id host")));
    const pinned = await Promise.race([checkedAddress(url.hostname, opts.allowLoopback).catch(() => "the client_id host does not resolve"), timeout]);
    if (typeof pinned === "string") return { ok: false, reason: pinned };
    return await get(url, pinned, controller.signal);
  } finally {
    clearTimeout(timer);
  }
}
