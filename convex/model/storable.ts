/**
 * Whether a JSON value from outside (an HTTP body, an MCP tool argument) can
 * be stored in a Convex document field, checked before it is handed to a
 * mutation: Convex's argument encoding would otherwise fail with a bare Error
 * (a 500), or the embedded backend would store what Convex refuses.
 */

// What a Convex document can hold (get-convex/convex-backend:
// crates/sync_types/src/identifier.rs check_valid_field_name, and the
// `convex` package's values/value.ts validateObjectField; crates/value/src/
// object.rs MAX_OBJECT_FIELDS, array.rs MAX_ARRAY_LEN, size.rs MAX_NESTING).
export const MAX_KEY_LENGTH = 1024;
export const MAX_OBJECT_FIELDS = 1024;
export const MAX_ARRAY_LENGTH = 8192;
/** A field of a document is one level inside it; Convex allows 64 in all. */
export const MAX_VALUE_NESTING = 63;

/** Why Convex cannot store this object key, or null when it can. Never quotes the key. */
function badKey(k: string): string | null {
  if (k.startsWith("$")) return `an object key starts with "$"`;
  if (k.length > MAX_KEY_LENGTH) return `an object key is ${k.length} characters long`;
  for (let i = 0; i < k.length; i++) {
    const code = k.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) {
      const hex = (k.codePointAt(i) ?? code).toString(16).toUpperCase().padStart(4, "0");
      return `an object key holds U+${hex} at position ${i}`;
    }
  }
  return null;
}

/** Why `x` is not plain JSON Convex can store, or null; `depth` = levels of arrays/objects around it. */
function badValue(x: unknown, depth: number): string | null {
  if (x === null || typeof x === "boolean" || typeof x === "string") return null;
  if (typeof x === "number") return Number.isFinite(x) ? null : "NaN and Infinity are not JSON";
  if (depth >= MAX_VALUE_NESTING) return `it is nested more than ${MAX_VALUE_NESTING} levels deep`;
  if (Array.isArray(x)) {
    if (x.length > MAX_ARRAY_LENGTH) return `an array has ${x.length} elements`;
    for (const y of x) {
      const why = badValue(y, depth + 1);
      if (why !== null) return why;
    }
    return null;
  }
  if (typeof x !== "object" || Object.getPrototypeOf(x) !== Object.prototype) {
    return "only null, booleans, numbers, strings, arrays and plain objects are JSON";
  }
  const entries = Object.entries(x as Record<string, unknown>);
  if (entries.length > MAX_OBJECT_FIELDS) return `an object has ${entries.length} fields`;
  for (const [k, y] of entries) {
    const why = badKey(k) ?? badValue(y, depth + 1);
    if (why !== null) return why;
  }
  return null;
}

/** Why `value` cannot be a field of a Convex document (no quoting of keys), or null when it can. */
export function whyNotStorable(value: unknown): string | null {
  return badValue(value, 0);
}
