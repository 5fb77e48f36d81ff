/**
 * Item-name globs for `allowedMatches`, matched in linear time.
 *
 * `*` matches any run of characters except "/", `**` any run including "/",
 * `?` exactly one character except "/"; every other character is literal
 * (no ranges, no escapes). A pattern matches the whole name.
 *
 * Patterns are attacker-chosen (anyone can mint a token with any pattern), so
 * they are never turned into a backtracking RegExp: a pattern compiles to
 * bit masks and runs as an NFA over the name, keeping the set of pattern
 * positions reachable so far (bit-parallel, 32 a word). Work is
 * O(|name| × |pattern| / 32) however the stars are arranged, and it is
 * counted (`steps`) so tests can bound it.
 */

/** Longest pattern; item names are at most 200 characters. */
export const MAX_GLOB_LENGTH = 128;
/** Patterns in one scope entry. */
export const MAX_GLOBS_PER_ENTRY = 16;
/** Patterns across all entries of one token. */
export const MAX_GLOBS_PER_TOKEN = 64;
/** Compiled patterns kept (least recently used are dropped). */
export const GLOB_CACHE_LIMIT = 1024;

export const GLOB_SYNTAX = /^[A-Za-z0-9_.\-/*?]+$/;

/** A pattern's own rule: 1 to MAX_GLOB_LENGTH characters of letters, digits, "_.-/" and the wildcards. */
export function isValidGlob(glob: string): boolean {
  return glob.length > 0 && glob.length <= MAX_GLOB_LENGTH && GLOB_SYNTAX.test(glob);
}

/**
 * A compiled pattern as bit masks over its states (state i = "the first i
 * tokens matched"), 32 states a word: the NFA runs bit-parallel.
 */
type Compiled = {
  /** Number of tokens (the accepting state). */
  n: number;
  words: number;
  /** For a literal character: the states whose token is that character. */
  literal: Map<string, Uint32Array>;
  /** States whose token is `?`, `*`, `**`. */
  one: Uint32Array;
  star: Uint32Array;
  globstar: Uint32Array;
};

function setBit(mask: Uint32Array, i: number): void {
  mask[i >>> 5] |= 1 << (i & 31);
}

/** A run of stars is one token: "*" stays in a segment, "**" (or longer) crosses them. */
function compile(glob: string): Compiled {
  const kinds: string[] = [];
  for (let i = 0; i < glob.length; ) {
    if (glob[i] === "*") {
      let j = i;
      while (glob[j] === "*") j++;
      kinds.push(j - i === 1 ? "*" : "**");
      i = j;
    } else kinds.push(glob[i++]);
  }
  const n = kinds.length;
  const words = (n >>> 5) + 1;
  const c: Compiled = {
    n,
    words,
    literal: new Map(),
    one: new Uint32Array(words),
    star: new Uint32Array(words),
    globstar: new Uint32Array(words),
  };
  kinds.forEach((k, i) => {
    if (k === "?") setBit(c.one, i);
    else if (k === "*") setBit(c.star, i);
    else if (k === "**") setBit(c.globstar, i);
    else {
      let m = c.literal.get(k);
      if (m === undefined) c.literal.set(k, (m = new Uint32Array(words)));
      setBit(m, i);
    }
  });
  return c;
}

const cache = new Map<string, Compiled>();

/** The compiled form of `glob`, from a bounded LRU cache. */
function compiled(glob: string): Compiled {
  let c = cache.get(glob);
  if (c !== undefined) {
    cache.delete(glob); // move to the most recent end
  } else {
    c = compile(glob);
    if (cache.size >= GLOB_CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  }
  cache.set(glob, c);
  return c;
}

/** Compiled patterns currently cached (for tests). */
export function compiledGlobCount(): number {
  return cache.size;
}

/** Adds to `d` the states a star lets through without a character (no two stars are adjacent). */
function close(c: Compiled, d: Uint32Array): void {
  let carry = 0;
  for (let w = 0; w < c.words; w++) {
    const skip = d[w] & (c.star[w] | c.globstar[w]);
    d[w] |= (skip << 1) | carry;
    carry = skip >>> 31;
  }
}

/**
 * Whether `glob` matches all of `name`, and the steps it took: one per word
 * of state per character, so at most (|name| + 1) × (|glob| / 32 + 1).
 */
export function matchGlob(glob: string, name: string): { matched: boolean; steps: number } {
  const c = compiled(glob);
  const zero = new Uint32Array(c.words);
  let current = new Uint32Array(c.words);
  let next = new Uint32Array(c.words);
  current[0] = 1;
  close(c, current);
  let steps = c.words;
  for (let p = 0; p < name.length; p++) {
    const ch = name[p];
    const slash = ch === "/";
    const lit = c.literal.get(ch) ?? zero;
    let carry = 0;
    let alive = 0;
    for (let w = 0; w < c.words; w++) {
      const cur = current[w];
      const advance = cur & (lit[w] | (slash ? 0 : c.one[w]));
      const stay = cur & (c.globstar[w] | (slash ? 0 : c.star[w]));
      next[w] = (advance << 1) | carry | stay;
      carry = advance >>> 31;
      steps++;
    }
    close(c, next);
    for (let w = 0; w < c.words; w++) alive |= next[w];
    if (alive === 0) return { matched: false, steps };
    [current, next] = [next, current];
  }
  return { matched: (current[c.n >>> 5] & (1 << (c.n & 31))) !== 0, steps };
}
export function matchesGlob(glob: string, name: string): boolean {
  return matchGlob(glob, name).matched;
}
