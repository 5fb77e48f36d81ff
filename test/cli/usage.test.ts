// The CLI's usage surface, no backend needed: help on every command, exit
// code 2 with a useful line for bad flags and durations, and the refusal to
// manage tokens with only a PAT.
import { afterAll, describe, expect, it } from "vitest";
import { makeHome, runCli } from "./run";

const home = makeHome();
afterAll(() => home.cleanup());

/** Nothing listens on port 1: any accidental network call fails fast. */
const NOWHERE = { KEYHOLE_URL: "http://127.0.0.1:1" };

function expectOneErrorLine(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe("--help", () => {
  it.each([
    [[], "Usage: keyhole [options] [command]"],
    [["login"], "Usage: keyhole login [options]"],
    [["logout"], "Usage: keyhole logout"],
    [["whoami"], "Usage: keyhole whoami [options]"],
    [["token"], "Usage: keyhole token [options] [command]"],
    [["token", "create"], "Usage: keyhole token create [options]"],
    [["token", "list"], "Usage: keyhole token list [options]"],
    [["token", "get"], "Usage: keyhole token get [options]"],
    [["token", "revoke"], "Usage: keyhole token revoke [options]"],
    [["session"], "Usage: keyhole session [options] [command]"],
    [["session", "create"], "Usage: keyhole session create [options]"],
    [["session", "refresh"], "Usage: keyhole session refresh [options]"],
    [["session", "end"], "Usage: keyhole session end [options]"],
    [["token", "regenerate"], "Usage: keyhole token regenerate [options]"],
    [["token", "update"], "Usage: keyhole token update|edit [options]"],
    [["token", "edit"], "Usage: keyhole token update|edit [options]"],
    [["org"], "Usage: keyhole org [options] [command]"],
    [["org", "tokens"], "Usage: keyhole org tokens [options]"],
    [["org", "revoke-token"], "Usage: keyhole org revoke-token [options]"],
    [["org", "invite"], "Usage: keyhole org invite [options]"],
    [["org", "accept"], "Usage: keyhole org accept [options] <link-or-code>"],
    [["org", "policy"], "Usage: keyhole org policy [options]"],
  ])("keyhole %j --help exits 0 with usage", async (path, usage) => {
    const r = await runCli([...path, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(usage);
    expect(r.stdout).toContain("--url <url>"); // the global option shows on every command
  });

  it("token create --help documents every flag", async () => {
    const r = await runCli(["token", "create", "--help"]);
    for (const flag of ["--name", "--scope", "--scopes-json", "--description", "--expires", "--type", "--json"]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it("--version prints the version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("usage errors exit 2 with one clear line", () => {
  it.each([
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["token", "list", "--bogus"], /unknown option '--bogus'/],
    [["token", "create"], /required option '--name <name>' not specified/],
    [["token", "create", "--name", "x", "--expires", "5x"], /'5x' is invalid.*30m, 12h, 90d, 1y/],
    [["token", "create", "--name", "x", "--expires", "1.5d"], /invalid.*30m, 12h, 90d, 1y/],
    [["token", "create", "--name", "x", "--expires", "0"], /greater than zero/],
    [["token", "create", "--name", "x", "--type", "SSH"], /Allowed choices are PAT, MCP/],
    [
      ["token", "create", "--name", "x", "--scope", "work:read", "--scopes-json", "[]"],
      /'--scopes-json <json>' cannot be used with option '--scope <scope>'|'--scope <scope>' cannot be used with option '--scopes-json <json>'/,
    ],
    [["token", "create", "--name", "x", "--scope", "acme="], /no permissions given/],
    [["token", "create", "--name", "x", "--scopes-json", "{oops"], /--scopes-json is not valid JSON/],
    [["token", "list", "--status", "dead"], /Allowed choices are active, expired, revoked, all/],
    [["token", "get"], /give the token's --name/],
    [["token", "revoke", "--name", "a", "--id", "b"], /--name or --id, not both/],
    [["session", "create"], /required option '--agent <id>' not specified/],
    [["session", "create", "--agent", "bot", "--ttl", "forever"], /'forever' is invalid.*30m, 12h/],
    [["session", "create", "--agent", "bot", "--metadata", "[1]"], /--metadata must be a JSON object/],
    [["session", "refresh", "--refresh-token", "a", "--token", "b"], /not both/],
    [["session", "refresh"], /no refresh token on stdin/],
    [["--url", "ftp://example.com", "whoami"], /must start with http:\/\/ or https:\/\//],
    [["login"], /--email is required when stdin is not a terminal/],
    [["login", "--email", "not-an-email"], /is not an email address/],
  ])("keyhole %j", async (args, pattern) => {
    const r = await home.run(args, { env: NOWHERE });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expectOneErrorLine(r.stderr, pattern);
  });

  it("a bad KEYHOLE_URL is a usage error", async () => {
    const r = await home.run(["whoami"], { env: { KEYHOLE_URL: "not a url" } });
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr, /KEYHOLE_URL "not a url" is not a URL/);
  });
});

describe("failures exit 1 with one clear line", () => {
  it.each([
    [["token", "create", "--name", "x"]],
    [["token", "list"]],
    [["token", "get", "--name", "x"]],
    [["token", "revoke", "--name", "x"]],
  ])("with only KEYHOLE_TOKEN set, %j is refused and says why", async (args) => {
    const r = await home.run(args, { env: { ...NOWHERE, KEYHOLE_TOKEN: "eyJhbGciOiJFUzI1NiJ9.e30.sig" } });
    expect(r.code).toBe(1);
    expectOneErrorLine(
      r.stderr,
      /token management needs an interactive sign-in: run keyhole login; a PAT cannot create or revoke PATs/,
    );
    expect(r.stderr).not.toContain("eyJhbGciOiJFUzI1NiJ9.e30.sig");
  });

  it("without a login, token commands say to log in", async () => {
    const r = await home.run(["token", "list"], { env: NOWHERE });
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr, /not signed in: run keyhole login/);
  });

  it("an unreachable backend is named", async () => {
    const r = await home.run(["login", "--email", "a@example.com"], { env: NOWHERE, input: "password123\n" });
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr, /cannot reach keyhole at http:\/\/127\.0\.0\.1:1/);
  });

  it("logout without a login is fine", async () => {
    const r = await home.run(["logout"], { env: NOWHERE });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Not signed in.");
  });
});
