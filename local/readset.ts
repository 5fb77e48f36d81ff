/**
 * What a live query read, and whether a commit can change its result.
 */
import { compareValues, jsonToConvex, type Value } from "convex/values";
import type { JournalState } from "./pagination.js";
import type { Doc } from "./store.js";

/** What a live query read: used to decide whether a commit can change it. */
export type ReadSet = {
  ids: Set<string>;
  tables: Set<string>;
  ranges: Array<{ table: string; range: RangeExpr[] }>;
  /** A live query's pagination journal (pagination.ts). */
  journal?: JournalState;
};
export type RangeExpr = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: unknown };

export type Change = { id: string; table: string; old: Doc | null; new: Doc | null };
export type CommitInfo = { ts: bigint; changes: Change[] };

export function emptyReadSet(): ReadSet {
  return { ids: new Set(), tables: new Set(), ranges: [] };
}

export function fieldOf(doc: Record<string, unknown>, fieldPath: string): Value | undefined {
  let cur: unknown = doc;
  for (const part of fieldPath.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur) || cur instanceof ArrayBuffer) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur as Value | undefined;
}

/** A range bound's value as the query sent it (JSON, `$undefined` for undefined). */
export function queryValue(v: unknown): Value | undefined {
  if (typeof v === "object" && v !== null && "$undefined" in v) return undefined;
  return jsonToConvex(v as never);
}

function matchesRange(doc: Doc, range: RangeExpr[]): boolean {
  for (const f of range) {
    const c = compareValues(fieldOf(doc, f.fieldPath), queryValue(f.value));
    const ok =
      f.type === "Eq" ? c === 0 : f.type === "Gt" ? c > 0 : f.type === "Gte" ? c >= 0 : f.type === "Lt" ? c < 0 : c <= 0;
    if (!ok) return false;
  }
  return true;
}

/** Could `changes` alter the result of a query that read `rs`? */
export function affects(rs: ReadSet, changes: Change[]): boolean {
  for (const ch of changes) {
    if (rs.ids.has(ch.id) || rs.tables.has(ch.table)) return true;
    for (const r of rs.ranges) {
      if (r.table !== ch.table) continue;
      if ((ch.old && matchesRange(ch.old, r.range)) || (ch.new && matchesRange(ch.new, r.range))) return true;
    }
  }
  return false;
}
