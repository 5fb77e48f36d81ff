/** Housekeeping in bounded batches (crons and their follow-ups). */
import type { NamedTableInfo, Query, QueryInitializer } from "convex/server";
import type { DataModel, TableNames } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";

/**
 * Deletes up to `batch` rows of `table` that `select` finds (an index range
 * of old rows); true when the batch was full, so more may remain.
 */
export async function deleteBatch<T extends TableNames>(
  ctx: MutationCtx,
  table: T,
  select: (q: QueryInitializer<NamedTableInfo<DataModel, T>>) => Query<NamedTableInfo<DataModel, T>>,
  batch: number,
): Promise<boolean> {
  const rows = await select(ctx.db.query(table)).take(batch);
  for (const r of rows) await ctx.db.delete(table, r._id);
  return rows.length === batch;
}
