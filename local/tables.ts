/**
 * Our maps of committed documents by table and by the first field of each
 * index, kept up to date on every commit: the scan hooks (hooks.ts) walk a
 * table's id set or one index bucket instead of every document.
 */
import { convexToJson, type Value } from "convex/values";
import { tableOf } from "./ids.js";
import { fieldOf, queryValue, type RangeExpr } from "./readset.js";
import type { Doc } from "./store.js";

type IndexMap = { name: string; field: string; buckets: Map<string, Set<string>> };
type TableSchema = { indexes?: Array<{ indexDescriptor: string; fields: string[] }> };

export const EMPTY: ReadonlySet<string> = new Set();

/** Bucket key of an index field value; null when we don't bucket such values. */
function bucketKey(v: Value | undefined): string | null {
  // Values that compare equal must get the same key (a bucket may hold more
  // than the range matches: the range filter still runs upstream).
  if (typeof v === "string") return "s" + v;
  if (typeof v === "number") return "n" + String(v);
  if (v === undefined) return "u";
  if (v === null || typeof v !== "object" || typeof v === "bigint") return JSON.stringify(convexToJson(v));
  return null; // objects, arrays, bytes: compared structurally upstream; no bucket
}

export class TableIndex {
  private tableIds = new Map<string, Set<string>>();
  private indexes = new Map<string, IndexMap[]>();

  /** `schemaOf(table)`: the table's schema (its indexes), read when the table is first seen. */
  constructor(private readonly schemaOf: (table: string) => TableSchema | undefined) {}

  clear() {
    this.tableIds.clear();
    this.indexes.clear();
  }

  /** Committed ids of one table (live: do not keep across a commit). */
  ids(table: string): ReadonlySet<string> {
    return this.tableIds.get(table) ?? EMPTY;
  }

  count(table?: string): number {
    if (table) return this.tableIds.get(table)?.size ?? 0;
    let n = 0;
    for (const s of this.tableIds.values()) n += s.size;
    return n;
  }

  private indexesFor(table: string): IndexMap[] {
    let list = this.indexes.get(table);
    if (!list) {
      list = [{ name: "by_id", field: "_id", buckets: new Map() }];
      for (const ix of this.schemaOf(table)?.indexes ?? []) {
        list.push({ name: ix.indexDescriptor, field: ix.fields[0]!, buckets: new Map() });
      }
      this.indexes.set(table, list);
    }
    return list;
  }

  add(id: string, doc: Doc) {
    const table = tableOf(id);
    if (!table) return;
    let ids = this.tableIds.get(table);
    if (!ids) this.tableIds.set(table, (ids = new Set()));
    ids.add(id);
    for (const ix of this.indexesFor(table)) {
      const key = bucketKey(fieldOf(doc, ix.field));
      if (key !== null) this.join(ix, key, id);
    }
  }

  /** A committed write: `old` → `next` (null for an insert / a delete); unchanged buckets are left alone. */
  update(id: string, old: Doc | null, next: Doc | null) {
    if (old === null || next === null) {
      if (old !== null) this.remove(id, old);
      if (next !== null) this.add(id, next);
      return;
    }
    const table = tableOf(id);
    if (!table) return;
    for (const ix of this.indexesFor(table)) {
      const before = bucketKey(fieldOf(old, ix.field));
      const after = bucketKey(fieldOf(next, ix.field));
      if (before === after) continue;
      if (before !== null) this.leave(ix, before, id);
      if (after !== null) this.join(ix, after, id);
    }
  }

  private join(ix: IndexMap, key: string, id: string) {
    let b = ix.buckets.get(key);
    if (!b) ix.buckets.set(key, (b = new Set()));
    b.add(id);
  }

  private leave(ix: IndexMap, key: string, id: string) {
    const b = ix.buckets.get(key);
    if (b) {
      b.delete(id);
      if (b.size === 0) ix.buckets.delete(key);
    }
  }

  remove(id: string, doc: Doc) {
    const table = tableOf(id);
    if (!table) return;
    this.tableIds.get(table)?.delete(id);
    for (const ix of this.indexesFor(table)) {
      const key = bucketKey(fieldOf(doc, ix.field));
      if (key !== null) this.leave(ix, key, id);
    }
  }

  /** Candidate ids for an index range, or null to scan the table. */
  candidates(table: string, indexName: string, range: RangeExpr[]): ReadonlySet<string> | null {
    const first = range[0];
    if (!first || first.type !== "Eq") return null;
    const ix = this.indexesFor(table).find((i) => i.name === indexName);
    if (!ix || ix.field !== first.fieldPath) return null;
    // Objects/arrays/bytes are not bucketed. A document holding one at this
    // field can only equal a query value of the same kind, and for such query
    // values we scan the whole table instead.
    const key = bucketKey(queryValue(first.value));
    if (key === null) return null;
    return ix.buckets.get(key) ?? EMPTY;
  }
}
