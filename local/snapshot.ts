/**
 * One snapshot per Transition.
 *
 * On Convex every query result in one Transition is computed at the same
 * timestamp (the Transition's endVersion.ts): the sync worker runs the query
 * set against one snapshot (get-convex/convex-backend: crates/sync/src/worker.rs,
 * `begin_update_queries`, which runs every query at the one timestamp (`new_ts`) it sends).
 * convex-test has no MVCC: each query is its own transaction, and a mutation
 * may commit between two of them. A connection therefore sends a Transition
 * only when no commit landed while its queries ran (local/livequeries.ts);
 * when that keeps failing (two conflicts in a row), it computes the
 * Transition in a snapshot round holding this gate: transactions already
 * running finish first, no new top-level transaction from anyone else begins
 * until the round is done, and all its queries read one committed state. The
 * round's own transactions are the live-query runs (the engine knows them by
 * their read tracker).
 */
export class SnapshotGate {
  private held: Promise<void> | null = null;

  /** `isHolder`: whether the running code belongs to the round holding the gate. */
  constructor(private readonly isHolder: () => boolean) {}

  /** Whether a top-level transaction must wait (`admit`) before it begins. */
  mustWait(): boolean {
    return this.held !== null && !this.isHolder();
  }

  /** Waits until no one else holds the gate. */
  async admit(): Promise<void> {
    while (this.mustWait()) await this.held;
  }

  /**
   * Runs `fn` holding the gate, after `quiesce` (waits for the transaction in
   * flight; null when there is none). Holders queue: one at a time.
   */
  async run<T>(quiesce: () => Promise<void> | null, fn: () => Promise<T>): Promise<T> {
    while (this.held !== null) await this.held;
    let release!: () => void;
    this.held = new Promise<void>((r) => (release = r));
    try {
      const waiting = quiesce(); // null: nothing in flight
      if (waiting !== null) await waiting;
      return await fn();
    } finally {
      this.held = null;
      release();
    }
  }
}
