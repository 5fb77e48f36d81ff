// allowedMatches globs: their semantics pinned by examples and by an
// exhaustive comparison with a reference matcher on small inputs; matching in
// linear time on attacker-chosen patterns (counted in steps, not timed); caps
// on pattern count and length; a bounded compiled-pattern cache.
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import {
  compiledGlobCount,
  GLOB_CACHE_LIMIT,
  matchGlob,
  MAX_GLOB_LENGTH,
  MAX_GLOBS_PER_ENTRY,
  MAX_GLOBS_PER_TOKEN,
} from "../../convex/model/glob";
import { normalizeScopes, ScopeError, scopesAllow } from "../../convex/model/scopes";
import { codeOf, errorOf } from "../helpers/errors";
import { refGlob } from "../helpers/glob-reference";
import { patFor, world } from "../tokens/fixtures";

const matches = (glob: string, name: string) => matchGlob(glob, name).matched;

describe("glob semantics", () => {
  test.each([
    // [glob, name, matches]
    ["**/url", "xurl", false], // "**/" needs the "/": not a suffix match
    ["**/url", "a/url", true],
    ["**/url", "a/b/url", true],
    ["a.b", "ab", false], // "." is a literal dot, not "any character"
    ["a.b", "axb", false],
    ["a.b", "a.b", true],
    ["a?", "ab", true], // "?" is exactly one character…
    ["a?", "a", false], // …not a regex quantifier ("b?" = optional b)
    ["ab?", "a", false],
    ["a?", "abb", false],
    ["a?b", "a/b", false], // …and never "/"
    ["Signal/*", "Signal/temp-1", true],
    ["Signal/*", "Signal/a/b", false], // "*" stays within one segment
    ["Signal/*", "Signal/", true],
    ["Config/**", "Config/db/url", true], // "**" crosses segments
    ["Config/**", "Configx", false],
    ["*", "a/b", false],
    ["**", "a/b", true],
    ["a-b", "a-b", true], // "-" is literal (no character ranges)
    ["x*", "x", true],
    ["*a*a*b", "aaaaaaaab", true],
    ["*a*a*b", "aaaaaaaaa", false],
  ])("%s vs %s → %s", (glob, name, expected) => {
    expect(matches(glob, name)).toBe(expected);
  });

  test('allowedMatches [] denies every item; no allowedMatches allows every item', () => {
    const target = { org: "acme", workspace: "site" };
    const none = [{ resource: "acme/site", permissions: ["work:read"], allowedMatches: [] }];
    const all = [{ resource: "acme/site", permissions: ["work:read"] }];
    for (const item of ["a", "Signal/temp-1", "Config/db/url"]) {
      expect(scopesAllow(none, "work:read", target, item)).toBe(false);
      expect(scopesAllow(all, "work:read", target, item)).toBe(true);
    }
  });

  /** Every string of length lo..hi over `alphabet`. */
  function* words(alphabet: string[], lo: number, hi: number): Generator<string> {
    for (let n = lo; n <= hi; n++) {
      const idx = new Array<number>(n).fill(0);
      for (;;) {
        yield idx.map((i) => alphabet[i]).join("");
        let k = n - 1;
        while (k >= 0 && idx[k] === alphabet.length - 1) idx[k--] = 0;
        if (k < 0) break;
        idx[k]++;
      }
    }
  }

  test("agrees with the reference on every glob of up to 4 symbols and every name of up to 4 characters", () => {
    const names = [...words(["a", "b", "/", "."], 0, 4)];
    let compared = 0;
    const disagreements: string[] = [];
    for (const glob of words(["a", "/", ".", "*", "?"], 1, 4)) {
      for (const name of names) {
        if (matches(glob, name) !== refGlob(glob, name)) disagreements.push(`${glob} vs ${JSON.stringify(name)}`);
        compared++;
      }
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(compared).toBeGreaterThan(100_000);
  });
});

describe("linear-time matching (counted in steps)", () => {
  /** The work a non-backtracking matcher may do: a few steps per (name position × pattern position). */
  const bound = (glob: string, name: string) => 2 * (name.length + 1) * (glob.length + 1);

  test.each([
    ["*a".repeat(63) + "*b", "a".repeat(200)], // the reported ReDoS: ~30× per extra "*a" when backtracking
    ["**a".repeat(42) + "*b", "a".repeat(200)],
    ["*a*a*a*a*b", "a".repeat(160)],
    ["?*".repeat(63) + "b", "a".repeat(200)],
    ["**/".repeat(42) + "x", "a/".repeat(100)],
  ])("%s against a %#-th adversarial name", (glob, name) => {
    const r = matchGlob(glob, name);
    expect(r.matched).toBe(false);
    expect(r.steps).toBeGreaterThan(0); // the counted matcher did the work
    expect(r.steps).toBeLessThanOrEqual(bound(glob, name));
  });

  test("the step count grows linearly with the name, not exponentially with the stars", () => {
    const glob = "*a".repeat(20) + "*b";
    const small = matchGlob(glob, "a".repeat(50)).steps;
    const big = matchGlob(glob, "a".repeat(200)).steps;
    // 4× the input → at most 4× the work, plus a fixed start-up cost while the star states fill in.
    expect(big).toBeLessThanOrEqual(4 * small + 2 * (glob.length + 1) ** 2);
    const fewer = matchGlob("*a".repeat(5) + "*b", "a".repeat(200)).steps;
    expect(big).toBeLessThanOrEqual(5 * fewer); // 4× the stars → linear, not 30^15× the work
  });

  test("a PAT with an adversarial pattern reading a long adversarial name is refused, not stuck", async () => {
    const { t, alice } = await world();
    const glob = "*a".repeat(60) + "*b";
    const pat = await patFor(t, alice, [{ resource: "acme/site", permissions: ["work:read"], allowedMatches: [glob] }]);
    expect(await codeOf(pat.as.query(api.items.get, { workspace: "acme/site", name: "a".repeat(200) }))).toBe("forbidden");
  });
});

describe("caps", () => {
  const entry = (allowedMatches: string[], resource = "acme/site") => ({ resource, permissions: ["work:read"], allowedMatches });

  test(`a pattern is at most ${MAX_GLOB_LENGTH} characters`, () => {
    expect(() => normalizeScopes([entry(["a".repeat(MAX_GLOB_LENGTH)])])).not.toThrow();
    expect(() => normalizeScopes([entry(["a".repeat(MAX_GLOB_LENGTH + 1)])])).toThrow(ScopeError);
    expect(() => normalizeScopes([entry(["a".repeat(MAX_GLOB_LENGTH + 1)])])).toThrow(/at most 128 characters/);
  });

  test(`at most ${MAX_GLOBS_PER_ENTRY} patterns an entry, ${MAX_GLOBS_PER_TOKEN} a token`, () => {
    const n = (k: number, tag = "") => Array.from({ length: k }, (_, i) => `p${tag}${i}`);
    expect(() => normalizeScopes([entry(n(MAX_GLOBS_PER_ENTRY))])).not.toThrow();
    expect(() => normalizeScopes([entry(n(MAX_GLOBS_PER_ENTRY + 1))])).toThrow(/at most 16 allowedMatches patterns/);
    const many = Array.from({ length: MAX_GLOBS_PER_TOKEN / MAX_GLOBS_PER_ENTRY + 1 }, (_, i) =>
      entry(n(MAX_GLOBS_PER_ENTRY, `w${i}`), `acme/w${i}`),
    );
    expect(() => normalizeScopes(many.slice(0, -1))).not.toThrow();
    expect(() => normalizeScopes(many)).toThrow(/at most 64 allowedMatches patterns in all/);
  });

  test("createApiToken answers invalid_argument for a pattern past the caps", async () => {
    const { alice } = await world();
    const e = await errorOf(
      alice.as.mutation(api.auth.createApiToken, { name: "long", scopes: [entry(["*a".repeat(64) + "*b"])] }),
    );
    expect(e.code).toBe("invalid_argument");
    expect(e.message).toMatch(/allowedMatches pattern .* at most 128 characters/);
  });
});

test("the compiled-pattern cache stays bounded however many unique patterns arrive", () => {
  for (let i = 0; i < GLOB_CACHE_LIMIT * 5; i++) matchGlob(`p${i}/*`, "p1/x");
  expect(compiledGlobCount()).toBeLessThanOrEqual(GLOB_CACHE_LIMIT);
  // A recent pattern is still answered correctly after the churn.
  expect(matches(`p${GLOB_CACHE_LIMIT * 5 - 1}/*`, `p${GLOB_CACHE_LIMIT * 5 - 1}/x`)).toBe(true);
});
