// Unit tests for the CLI's pure parts: durations, scope flags, error lines,
// the credentials file.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConvexError } from "convex/values";
import { afterEach, describe, expect, it } from "vitest";
import { secretFromInput } from "../../cli/commands/session";
import { DurationError, formatDuration, parseDuration } from "../../cli/lib/duration";
import {
  credentialsPath,
  deleteCredentials,
  jwtExpiresAt,
  loadCredentials,
  saveCredentials,
} from "../../cli/lib/credentials";
import { describeError, UsageError } from "../../cli/lib/errors";
import { relative, table, tsv } from "../../cli/lib/output";
import { checkScopeFlag, formatScopes, parseScopesJson, scopesFromFlags } from "../../cli/lib/scopes";

describe("parseDuration", () => {
  it("reads each unit as seconds", () => {
    expect(parseDuration("45s")).toBe(45);
    expect(parseDuration("30m")).toBe(1800);
    expect(parseDuration("12h")).toBe(43_200);
    expect(parseDuration("90d")).toBe(90 * 86_400);
    expect(parseDuration("2w")).toBe(14 * 86_400);
    expect(parseDuration("1y")).toBe(365 * 86_400);
  });
  it("takes plain numbers as seconds", () => {
    expect(parseDuration("3600")).toBe(3600);
  });
  it.each(["", "abc", "5x", "1.5h", "-1h", "h", "10 days", "0", "0d", "1e3"])("rejects %j", (s) => {
    expect(() => parseDuration(s)).toThrow(DurationError);
  });
  it("says what a good duration looks like", () => {
    expect(() => parseDuration("5x")).toThrow(/30m, 12h, 90d, 1y/);
  });
  it("rejects durations too large to represent", () => {
    expect(() => parseDuration("99999999999999999y")).toThrow(DurationError);
  });
  it("formats back to the largest exact unit", () => {
    expect(formatDuration(90 * 86_400)).toBe("90d");
    expect(formatDuration(3600)).toBe("1h");
    expect(formatDuration(61)).toBe("61s");
    expect(formatDuration(365 * 86_400)).toBe("1y");
  });
});

describe("scope flags", () => {
  it("passes each shorthand form through unchanged (trimmed)", () => {
    expect(checkScopeFlag("acme/site=work:read,work:write")).toBe("acme/site=work:read,work:write");
    expect(checkScopeFlag("acme=work:read")).toBe("acme=work:read");
    expect(checkScopeFlag(" work:read ")).toBe("work:read");
    expect(checkScopeFlag("*")).toBe("*");
  });
  it.each([
    ["", /needs a value/],
    ["=work:read", /before "=" is empty/],
    ["acme=", /no permissions/],
    ["acme=work:read work:write", /commas/],
    ["ac me=work:read", /not an org/],
  ])("rejects %j", (s, message) => {
    expect(() => checkScopeFlag(s)).toThrow(UsageError);
    expect(() => checkScopeFlag(s)).toThrow(message);
  });
  it("repeats --scope into a list", () => {
    expect(scopesFromFlags({ scope: ["acme=work:read", "tokens:read"] })).toEqual(["acme=work:read", "tokens:read"]);
  });
  it("no scope flags means [] (full role)", () => {
    expect(scopesFromFlags({})).toEqual([]);
  });
  it("--scope and --scopes-json are mutually exclusive", () => {
    expect(() => scopesFromFlags({ scope: ["work:read"], scopesJson: "[]" })).toThrow(/cannot be used together/);
  });
  it("--scopes-json keeps entries with allowedMatches and accepts strings", () => {
    const json = JSON.stringify([
      { resource: "acme/site", permissions: ["work:read"], allowedMatches: ["Signal/*"] },
      "tokens:read",
    ]);
    expect(parseScopesJson(json)).toEqual([
      { resource: "acme/site", permissions: ["work:read"], allowedMatches: ["Signal/*"] },
      "tokens:read",
    ]);
  });
  it.each([
    ["not json", /not valid JSON/],
    ['{"permissions":[]}', /must be a JSON array/],
    ["[1]", /expected a string or an object/],
    ['[{"resource":"acme"}]', /"permissions" must be an array/],
    ['[{"permissions":["work:read"],"allowed":["x"]}]', /unknown field "allowed"/],
    ['[{"permissions":["work:read"],"allowedMatches":"x"}]', /"allowedMatches" must be an array/],
    ['[{"permissions":["work:read"],"resource":5}]', /"resource" must be a string/],
  ])("--scopes-json rejects %s", (text, message) => {
    expect(() => parseScopesJson(text)).toThrow(UsageError);
    expect(() => parseScopesJson(text)).toThrow(message);
  });
  it("formats entries as shorthand for people", () => {
    expect(formatScopes([])).toEqual(["*"]);
    expect(
      formatScopes([
        { resource: "acme/site", permissions: ["work:read", "work:write"], allowedMatches: ["Signal/*"] },
        { permissions: ["tokens:read"] },
      ]),
    ).toEqual(["acme/site=work:read,work:write [Signal/*]", "tokens:read"]);
  });
});

describe("error lines", () => {
  it("maps ConvexError data to '<message> (<code>)'", () => {
    expect(describeError(new ConvexError({ code: "forbidden", message: "not allowed" }))).toBe("not allowed (forbidden)");
  });
  it("keeps only the meaningful line of a server error", () => {
    const raw = "[Request ID: abc123] Server Error\nUncaught Error: InvalidSecret\n    at handler (auth.js:1:1)";
    expect(describeError(new Error(raw))).toBe("wrong email or password");
  });
  it("names the URL when the backend cannot be reached", () => {
    const e = new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    expect(describeError(e, "http://127.0.0.1:1")).toMatch(/cannot reach keyhole at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });
  it("never repeats a JWT found in a message", () => {
    const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwYXQ6eHl6In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    expect(describeError(new Error(`bad token ${jwt}`))).not.toContain(jwt);
  });
});

describe("session secrets from stdin", () => {
  it("reads a raw value or the field of the JSON that session create prints", () => {
    expect(secretFromInput("abc\n", "refreshToken")).toBe("abc");
    expect(secretFromInput('{"token":"t","refreshToken":"r"}', "refreshToken")).toBe("r");
    expect(secretFromInput('{"token":"t","refreshToken":"r"}', "token")).toBe("t");
    expect(secretFromInput("  \n", "token")).toBeUndefined();
  });
});

describe("credentials file", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("lives under XDG_CONFIG_HOME/keyhole with dir 0700 and file 0600, and round-trips", () => {
    dir = mkdtempSync(join(tmpdir(), "kh-cred-"));
    const env = { XDG_CONFIG_HOME: dir };
    const creds = { url: "http://127.0.0.1:3210", token: "a.b.c", refreshToken: "r", email: "a@example.com" };
    const path = saveCredentials(creds, env);
    expect(path).toBe(join(dir, "keyhole", "credentials.json"));
    expect(credentialsPath(env)).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "keyhole")).mode & 0o777).toBe(0o700);
    expect(loadCredentials(env)).toEqual(creds);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(creds);
    expect(deleteCredentials(env)).toBe(true);
    expect(loadCredentials(env)).toBeNull();
    expect(deleteCredentials(env)).toBe(false);
  });

  it("decodes a JWT's exp without verifying it", () => {
    const payload = Buffer.from(JSON.stringify({ exp: 1_700_000_000 })).toString("base64url");
    expect(jwtExpiresAt(`x.${payload}.y`)).toBe(1_700_000_000_000);
    expect(jwtExpiresAt("garbage")).toBeNull();
  });
});

describe("output", () => {
  it("pads table columns to the widest cell", () => {
    expect(table(["NAME", "STATUS"], [["a", "active"], ["longer", "revoked"]])).toBe(
      ["NAME    STATUS", "a       active", "longer  revoked"].join("\n"),
    );
  });
  it("keeps tab-separated rows one line each", () => {
    expect(tsv([["a", "b\tc"], ["d\ne", "f"]])).toBe("a\tb c\nd e\tf");
  });
  it("says relative times the way people read them", () => {
    const now = 1_000_000_000_000;
    expect(relative(null, now)).toBe("never");
    expect(relative(now + 29 * 86_400_000 + 5, now)).toBe("in 29d");
    expect(relative(now - 3 * 3_600_000, now)).toBe("3h ago");
    expect(relative(now - 10_000, now)).toBe("just now");
  });
});
