// Our index buckets (local/tables.ts) after committed writes: a patch that
// changes an indexed field moves the document to the new bucket and out of
// the old one; a patch that leaves it alone keeps it where it was; inserts
// and deletes join and leave every bucket. The scan hooks read only these
// buckets, so a document in the wrong one would be missing from (or wrongly
// in) an indexed query.
import { convexToJson } from "convex/values";
import { expect, test } from "vitest";
import { TableIndex } from "../../local/tables";
import type { Doc } from "../../local/store";

const schema = { indexes: [{ indexDescriptor: "by_owner", fields: ["owner", "name"] }] };
const eq = (value: string) => [{ type: "Eq" as const, fieldPath: "owner", value: convexToJson(value) }];
const doc = (id: string, owner: string, extra: Record<string, string> = {}): Doc => ({ _id: id, _creationTime: 1, owner, name: "n", ...extra });

test("a patch moves a document between index buckets only when its key changes; inserts and deletes join and leave", () => {
  const t = new TableIndex((table) => (table === "things" ? schema : undefined));
  const a = "1111things";
  const b = "2222things";
  t.update(a, null, doc(a, "ann"));
  t.update(b, null, doc(b, "ann"));
  expect([...t.candidates("things", "by_owner", eq("ann"))!]).toEqual([a, b]);

  t.update(a, doc(a, "ann"), doc(a, "ann", { lastUsed: "now" })); // same key: stays
  expect([...t.candidates("things", "by_owner", eq("ann"))!].sort()).toEqual([a, b]);

  t.update(a, doc(a, "ann", { lastUsed: "now" }), doc(a, "bob")); // new key: moves
  expect([...t.candidates("things", "by_owner", eq("ann"))!]).toEqual([b]);
  expect([...t.candidates("things", "by_owner", eq("bob"))!]).toEqual([a]);
  expect(t.count("things")).toBe(2);

  t.update(b, doc(b, "ann"), null); // delete: leaves the table and its bucket
  expect(t.candidates("things", "by_owner", eq("ann"))!.size).toBe(0);
  expect([...t.ids("things")]).toEqual([a]);
});
