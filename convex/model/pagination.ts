/**
 * One way to read a page: numItems clamped to [1, max], and a cursor the
 * runtime cannot parse (not one this deployment handed out) reported as
 * `invalid_argument` instead of a system error (a 500 on the HTTP API).
 * Failures of a first-page read (null cursor) and ConvexErrors pass through.
 */
import type { PaginationOptions } from "convex/server";
import { ConvexError } from "convex/values";
import { keyholeError } from "./errors";

export async function readPage<T>(
  opts: PaginationOptions,
  maxPageSize: number,
  read: (opts: PaginationOptions) => Promise<T>,
): Promise<T> {
  const numItems = Math.max(1, Math.min(Math.floor(opts.numItems) || 1, maxPageSize));
  try {
    return await read({ ...opts, numItems });
  } catch (e) {
    if (opts.cursor === null || e instanceof ConvexError) throw e;
    throw keyholeError(
      "invalid_argument",
      "paginationOpts.cursor is malformed: pass null for the first page, then the continueCursor of the previous page",
    );
  }
}
