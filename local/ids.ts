/**
 * Document ids the way security needs them: unguessable.
 *
 * convex-test numbers documents with a counter (`…10002authSessions`). That is
 * fine in a unit test, but @convex-dev/auth's refresh token is
 * `<authRefreshTokens id>|<authSessions id>`, so with counter ids anyone who
 * signs up once can guess a neighbour's refresh token. On Convex an id's
 * internal part is random: 14 random bytes + 2 bytes of the day
 * (get-convex/convex-backend: crates/database/src/transaction_id_generator.rs,
 * encoded by crates/value/src/id_v6.rs).
 *
 * Ours: 16 bytes from crypto.getRandomValues (128 bits) written as exactly
 * ID_DIGITS decimal digits, followed by the table name. convex-test finds a
 * document's table as "the id minus its leading digits" (`tableNameFromId`,
 * used by db.get, v.id validation and db.normalizeId), so every engine
 * lookup keeps working unchanged.
 *
 * A counter id never has ID_DIGITS leading digits (convex-test pads to 32
 * characters with the table name), which is how an old data dir's ids are
 * told apart: `endCounterSignIns` ends the sign-ins whose ids came from the
 * counter; everything else is kept.
 */
import type { Engine } from "./engine.js";

/** Decimal digits of 2^128 - 1: every random id has exactly this many leading digits. */
export const ID_DIGITS = 39;

// Random bytes are drawn from crypto.getRandomValues 4 KiB at a time (each
// byte used once): the call has a fixed cost that would dominate per id.
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;

/** 128 random bits as ID_DIGITS decimal digits. */
export function randomIdDigits(): string {
  if (poolAt + 16 > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    poolAt = 0;
  }
  const v = new DataView(pool.buffer, poolAt, 16);
  poolAt += 16;
  const n = (v.getBigUint64(0) << 64n) | v.getBigUint64(8);
  return n.toString().padStart(ID_DIGITS, "0");
}

function digitPrefix(id: string): number {
  let i = 0;
  while (i < id.length && id.charCodeAt(i) >= 48 && id.charCodeAt(i) <= 57) i++;
  return i;
}

/** tableNameFromId, as convex-test reads ids: leading digits, then the table name. */
export function tableOf(id: string): string | null {
  const i = digitPrefix(id);
  return i === 0 || i === id.length ? null : id.slice(i);
}

/** An id made by convex-test's counter (an old data dir), not by randomIdDigits. */
export function isCounterId(id: string): boolean {
  const i = digitPrefix(id);
  return i > 0 && i < id.length && i !== ID_DIGITS;
}

/** A fresh id for `table` that no document (committed or pending) has. */
export function newDocumentId(table: string, taken: (id: string) => boolean): string {
  for (;;) {
    const id = randomIdDigits() + table;
    if (!taken(id)) return id;
  }
}

/**
 * Ends every sign-in whose ids came from the counter (an old data dir):
 * deletes those refresh tokens and sign-in sessions (and the refresh tokens
 * of such sessions), in one journaled transaction. Returns how many of each
 * were deleted; 0/0 when there were none (then nothing is written).
 */
export async function endCounterSignIns(engine: Engine): Promise<{ sessions: number; refreshTokens: number }> {
  const counterIds = (table: string) => engine.idsOf(table).filter(isCounterId);
  const sessions = new Set(counterIds("authSessions"));
  const tokens = new Set(counterIds("authRefreshTokens"));
  for (const id of engine.idsOf("authRefreshTokens")) {
    const doc = engine.document(id);
    if (doc && typeof doc.sessionId === "string" && sessions.has(doc.sessionId)) tokens.add(id);
  }
  if (sessions.size === 0 && tokens.size === 0) return { sessions: 0, refreshTokens: 0 };
  await engine.deleteDocuments([...tokens, ...sessions]);
  return { sessions: sessions.size, refreshTokens: tokens.size };
}
