/** Wire-level helpers and per-socket limits of the sync protocol (see sync.ts). */
import type { IncomingMessage } from "node:http";
import { jsonToConvex, type Value } from "convex/values";

export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Live queries one socket may hold. */
export const MAX_QUERIES_PER_SOCKET = 1000;
/**
 * Mutations + actions one socket may have in flight: Convex's
 * OPERATION_QUEUE_BUFFER_SIZE (crates/sync/src/worker.rs, errors
 * TooManyConcurrentMutations / TooManyInflightActionsForSingleClient).
 */
export const MAX_INFLIGHT_PER_SOCKET = 1000;
export const PING_MS = 15_000;
export const SESSION_TTL_MS = 10 * 60_000;
export const SESSION_MAX_RESULTS = 1000;

export function encodeTs(ts: bigint): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(ts < 0n ? 0n : ts);
  return b.toString("base64");
}

export type Version = { querySet: number; identity: number; ts: bigint };

export function wireVersion(v: Version) {
  return { querySet: v.querySet, identity: v.identity, ts: encodeTs(v.ts) };
}

export function clientIp(req: IncomingMessage): string | null {
  const a = req.socket.remoteAddress ?? null;
  return a && a.startsWith("::ffff:") ? a.slice(7) : a;
}

export function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/** `[argsObject]` (the wire format) → Convex value; throws on anything else. */
export function decodeArgs(args: unknown): Record<string, Value> {
  const raw = Array.isArray(args) ? (args.length === 0 ? {} : args[0]) : args;
  if (Array.isArray(args) && args.length > 1) throw new Error("Expected a single arguments object");
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new Error("The arguments to a Convex function must be an object");
  return (hasProtoKey(raw) ? decodeKeepingProto(raw) : jsonToConvex(raw as never)) as Record<string, Value>;
}

/**
 * JSON.parse makes a `"__proto__"` key an own field, and so does Convex (a
 * field name only may not start with `$` or hold non-ASCII: crates/value/src/
 * field_name.rs), whose argument validator then judges it like any other.
 * convex/values' jsonToConvex assigns fields with `out[k] = v`, which for
 * `__proto__` replaces the object's prototype instead: the field vanishes or
 * the value stops being a Convex value. The rare arguments that hold one are
 * decoded here with the key kept as data.
 */
function hasProtoKey(json: unknown): boolean {
  if (json === null || typeof json !== "object") return false;
  if (Array.isArray(json)) return json.some(hasProtoKey);
  return Object.hasOwn(json, "__proto__") || Object.values(json).some(hasProtoKey);
}

function decodeKeepingProto(json: unknown): Value {
  if (Array.isArray(json)) return json.map(decodeKeepingProto);
  if (json === null || typeof json !== "object" || !hasProtoKey(json)) return jsonToConvex(json as never);
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(json)) {
    jsonToConvex({ [k]: null }); // the field-name rules
    Object.defineProperty(out, k, { value: decodeKeepingProto(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
