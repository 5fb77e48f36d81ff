// One rule, three surfaces: the dashboard refuses exactly the token forms the
// backend refuses, the CLI renders scopes and errors the way shared/ does, and
// a rate_limited error carries its wait as data. The cases are built from the
// shared constants, so a surface that keeps its own copy of a rule (a name
// regex, a glob limit, a maximum expiry) disagrees at the boundary and fails.
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { LIMITS } from "../../convex/model/rateLimit";
import { describeError as cliDescribeError } from "../../cli/lib/errors";
import { describeScopes } from "../../cli/lib/scopes";
import { keyholeError, keyholeErrorData, retryAfterSeconds } from "../../shared/errors";
import { MAX_GLOB_LENGTH } from "../../shared/glob";
import { PERMISSIONS } from "../../shared/permissions";
import { formatScopes, type ScopeInput } from "../../shared/scopes";
import { MAX_DESCRIPTION, MAX_EXPIRES_IN_S, MIN_EXPIRES_IN_S } from "../../shared/tokens";
import { describeError as webDescribeError } from "../../web/src/lib/errors";
import { checkTokenForm, entriesOf, type Draft, type TokenFormInput } from "../../web/src/lib/tokenForm";
import { makeTest, signIn } from "../helpers/convex";
import { errorOf } from "../helpers/errors";

type Case = { label: string; form: Partial<TokenFormInput> };

const row = (resource: string, permissions: string[], patterns = ""): Draft => ({ key: 0, resource, permissions, patterns });
const glob = (n: number) => "a".repeat(n);

/** Each differs from a valid form in one field. */
const CASES: Case[] = [
  { label: "a plain form", form: {} },
  { label: "empty name", form: { name: "" } },
  { label: "one-letter name", form: { name: "a" } },
  { label: "longest name", form: { name: "n".repeat(64) } },
  { label: "name one too long", form: { name: "n".repeat(65) } },
  { label: "name with a space", form: { name: "ci deploy" } },
  { label: "name with a dot", form: { name: "ci.deploy" } },
  { label: "name with a slash", form: { name: "ci/deploy" } },
  { label: "name with a non-ASCII letter", form: { name: "naïve" } },
  { label: "name with a newline", form: { name: "ci\n" } },
  { label: "longest description", form: { description: "d".repeat(MAX_DESCRIPTION) } },
  { label: "description one too long", form: { description: "d".repeat(MAX_DESCRIPTION + 1) } },
  { label: "shortest lifetime", form: { expiresIn: MIN_EXPIRES_IN_S } },
  { label: "lifetime one second too short", form: { expiresIn: MIN_EXPIRES_IN_S - 1 } },
  { label: "longest lifetime", form: { expiresIn: MAX_EXPIRES_IN_S } },
  { label: "lifetime one second too long", form: { expiresIn: MAX_EXPIRES_IN_S + 1 } },
  { label: "full role", form: { scoped: false, rows: [] } },
  { label: "a workspace scope", form: { rows: [row("acme/site", ["work:read"])] } },
  { label: "a scope that names no permission", form: { rows: [row("acme/site", [])] } },
  { label: "a scope with an unknown permission", form: { rows: [row("acme/site", ["work:admin"])] } },
  { label: "globs at the limit", form: { rows: [row("acme/site", ["work:read"], `Signal/* ** ${glob(MAX_GLOB_LENGTH)}`)] } },
  { label: "a glob one too long", form: { rows: [row("acme/site", ["work:read"], glob(MAX_GLOB_LENGTH + 1))] } },
  { label: "a glob with brackets", form: { rows: [row("acme/site", ["work:read"], "a[b]")] } },
  { label: "a glob with a backslash", form: { rows: [row("acme/site", ["work:read"], "a\\b")] } },
  { label: "a malformed resource", form: { rows: [row("Acme!", ["work:read"])] } },
  { label: "a personal permission everywhere", form: { rows: [row("", ["tokens:read"])] } },
];

function formOf(c: Case, i: number): TokenFormInput {
  return { name: `t${i}`, description: "", expiresIn: 3600, scoped: true, rows: [row("acme/site", ["work:read"])], ...c.form };
}

describe("the dashboard's token form and the backend agree", () => {
  test("every case the backend refuses, the dashboard refuses, and no other", async () => {
    const t = await makeTest();
    const owner = await signIn(t, "owner@example.com");
    await owner.as.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
    await owner.as.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
    const disagreements: string[] = [];
    let accepted = 0;
    for (const [i, c] of CASES.entries()) {
      const form = formOf(c, i);
      const web = checkTokenForm(form, new Set()).valid ? "accepts" : "refuses";
      const args = {
        name: form.name,
        scopes: form.scoped ? entriesOf(form.rows) : [],
        expiresIn: form.expiresIn!,
        ...(form.description ? { description: form.description } : {}),
      };
      let backend: string;
      try {
        await owner.as.mutation(api.auth.createApiToken, args);
        backend = "accepts";
        accepted++;
      } catch (e) {
        backend = keyholeErrorData(e)?.code === "invalid_argument" ? "refuses" : `fails: ${String(e)}`;
      }
      if (backend !== web) disagreements.push(`${c.label}: backend ${backend}, dashboard ${web}`);
    }
    expect(disagreements).toEqual([]);
    // The table exercises both answers, and stays under the creation limit.
    expect(accepted).toBeGreaterThan(5);
    expect(accepted).toBeLessThan(CASES.length - 5);
    expect(accepted).toBeLessThanOrEqual(LIMITS.tokenCreate.max);
  });

  test("every permission of the catalog is one the dashboard lets a scope name", () => {
    for (const p of PERMISSIONS) {
      const form = formOf({ label: p, form: { rows: [row("", [p])] } }, 0);
      expect(checkTokenForm(form, new Set()).scope, p).toBeNull();
    }
  });
});

describe("the CLI and the dashboard read errors and scopes as shared/ does", () => {
  const scopes: ScopeInput[] = [{ resource: "acme/site", permissions: ["work:read", "work:write"], allowedMatches: ["Signal/*"] }, "tokens:read"];

  test("scopes render as formatScopes renders them", () => {
    expect(describeScopes(scopes)).toBe(formatScopes(scopes).join("  "));
  });

  test("a keyhole error reads the same on every surface", () => {
    const e = keyholeError("rate_limited", "too many tokens created: try again in 3 s", { retryAfterMs: 2_500 });
    expect(keyholeErrorData(e)).toEqual({ code: "rate_limited", message: "too many tokens created: try again in 3 s", retryAfterMs: 2_500 });
    expect(webDescribeError(e)).toEqual(keyholeErrorData(e));
    expect(cliDescribeError(e)).toBe("too many tokens created: try again in 3 s (rate_limited)");
    expect(retryAfterSeconds(keyholeErrorData(e)!)).toBe(3);
  });
});

test("a rate_limited error carries its wait as data; the message stays as it was", async () => {
  const t = await makeTest();
  const erin = await signIn(t, "erin@example.com");
  for (let i = 0; i < LIMITS.tokenCreate.max; i++) {
    await erin.as.mutation(api.auth.createApiToken, { name: `n${i}`, scopes: [] });
  }
  const e = (await errorOf(erin.as.mutation(api.auth.createApiToken, { name: "over", scopes: [] }))) as {
    code: string;
    message: string;
    retryAfterMs?: number;
  };
  expect(e.code).toBe("rate_limited");
  expect(e.retryAfterMs).toBeGreaterThan(0);
  expect(e.retryAfterMs).toBeLessThanOrEqual(LIMITS.tokenCreate.windowMs);
  expect(e.message).toBe(`too many tokens created: try again in ${Math.ceil(e.retryAfterMs! / 1000)} s`);
});
