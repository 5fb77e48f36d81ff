// allowedMatches globs longer than one 32-state word (shared/glob.ts runs the
// pattern as bit masks, 32 states a word): a state carried across a word
// boundary wrongly would let a long pattern match names it must not — or
// refuse ones it must allow. Pinned against the reference matcher.
import { expect, test } from "vitest";
import { compiledGlobCount, GLOB_CACHE_LIMIT, matchGlob } from "../../shared/glob";
import { refGlob } from "../helpers/glob-reference";

test("patterns spanning several 32-state words agree with the reference at every word boundary", () => {
  let compared = 0;
  let matched = 0;
  const disagreements: string[] = [];
  for (const k of [29, 30, 31, 32, 33, 62, 63, 64, 65, 95, 96]) {
    const head = "a".repeat(k);
    for (const wild of ["*", "?", "**", "/", "b"]) {
      for (const glob of [`${head}${wild}bc`, `*${head}${wild}c`, `${head}${wild}`]) {
        for (const middle of ["", "x", "xy", "/", "x/y", "b", "bb"]) {
          for (const name of [`${head}${middle}bc`, `${head}${middle}c`, `${head}${middle}`, `a${head}${middle}c`, `${head.slice(1)}${middle}bc`]) {
            const got = matchGlob(glob, name).matched;
            if (got !== refGlob(glob, name)) disagreements.push(`${glob.length}:${glob.slice(k - 2)} vs …${name.slice(k - 2)}`);
            compared++;
            if (got) matched++;
          }
        }
      }
    }
  }
  expect(disagreements.slice(0, 10)).toEqual([]);
  // Both answers occur often, so a matcher that always says yes or always no fails.
  expect(matched).toBeGreaterThan(300);
  expect(compared - matched).toBeGreaterThan(300);
});

test("the compiled-pattern cache keeps the most recent GLOB_CACHE_LIMIT patterns (not fewer)", () => {
  for (let i = 0; i < GLOB_CACHE_LIMIT * 2; i++) matchGlob(`keep${i}/*`, "x");
  expect(compiledGlobCount()).toBe(GLOB_CACHE_LIMIT);
});
