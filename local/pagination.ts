/**
 * Pagination journals, as Convex keeps them for reactive pagination.
 *
 * A live query that calls `.paginate()` records where its page ended (the
 * query journal's `end_cursor`). The journal is sent to the client with the
 * result (`QueryUpdated.journal`), handed back when the client re-adds the
 * query (`ModifyQuerySet` Add `journal`), and every re-execution pages up to
 * that same end cursor instead of counting `numItems` again. So a page keeps
 * its boundaries while rows arrive: it grows or shrinks, and the next page
 * (which starts at this end cursor) never loses a row in between.
 * get-convex/convex-backend: crates/common/src/query_journal.rs (QueryJournal),
 * crates/isolate/src/environment/udf/async_syscall.rs (`query_page`: an
 * explicit endCursor wins, else the previous journal's end cursor; the next
 * journal records the page's cursor; `read_page_from_query`: with an end
 * cursor the page's cursor IS the end cursor).
 *
 * Convex encrypts the journal (the client cannot forge one); we sign it with
 * a per-process HMAC key, bound to the query's path and arguments. A journal
 * that does not verify (forged, another query's, or from before a restart) is
 * ignored: the query pages from scratch, as it would without one.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { jsonToConvex } from "convex/values";

const KEY = randomBytes(32);

/** What one execution of a live query used and produced. */
export type JournalState = { prev: string | null; next: string | null };

function mac(udfPath: string, argsJson: string, endCursor: string): string {
  return createHmac("sha256", KEY).update(`${udfPath}\u0000${argsJson}\u0000${endCursor}`).digest("base64url");
}

/** The wire journal for an end cursor (null: no journal). */
export function encodeJournal(udfPath: string, argsJson: string, endCursor: string | null): string | null {
  if (endCursor === null) return null;
  return `${mac(udfPath, argsJson, endCursor)}.${endCursor}`;
}

/** The end cursor in a client's journal, or null when it is absent or does not verify. */
export function decodeJournal(udfPath: string, argsJson: string, journal: unknown): string | null {
  if (typeof journal !== "string" || journal.length > 70_000) return null;
  const dot = journal.indexOf(".");
  if (dot <= 0) return null;
  const given = Buffer.from(journal.slice(0, dot));
  const endCursor = journal.slice(dot + 1);
  const expected = Buffer.from(mac(udfPath, argsJson, endCursor));
  return given.length === expected.length && timingSafeEqual(given, expected) ? endCursor : null;
}

type PageOpts = { cursor: unknown; endCursor?: unknown };
type PageResult = { continueCursor: string; isDone: boolean; pageStatus?: string | null };

/**
 * Runs convex-test's paginate with Convex's reactive-pagination rules:
 * the journal's end cursor when the call gives none, the page's cursor
 * recorded as the next journal, and — with an end cursor — that end cursor
 * as the page's continueCursor (convex-test would report "done" when the
 * document at the end cursor was deleted).
 */
export function paginateWithJournal<R extends PageResult>(
  journal: JournalState | undefined,
  opts: PageOpts,
  paginate: (opts: PageOpts) => R,
): R {
  const explicit = typeof opts.endCursor === "string" ? opts.endCursor : null;
  const endCursor = explicit ?? journal?.prev ?? null;
  const result = paginate(endCursor === null ? opts : { ...opts, endCursor });
  if (endCursor !== null && endCursor !== "_end_cursor" && result.pageStatus !== "SplitRequired") {
    result.continueCursor = endCursor;
    result.isDone = false;
  }
  if (journal) journal.next = result.continueCursor;
  return result;
}

/** A cursor as convex-test writes them: "_end_cursor", or a JSON array of null / JSON-encoded values. */
export function isWellFormedCursor(c: unknown): boolean {
  if (c === "_end_cursor") return true;
  if (typeof c !== "string" || c.length > 65536) return false;
  try {
    const keys: unknown = JSON.parse(c);
    return (
      Array.isArray(keys) &&
      keys.every((k) => {
        if (k === null) return true;
        if (typeof k !== "string") return false;
        jsonToConvex(JSON.parse(k));
        return true;
      })
    );
  } catch {
    return false;
  }
}
