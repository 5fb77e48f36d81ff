// The dashboard's pure helpers (no browser): where it finds the backend, what
// the scope builder offers, how times and clients are described.
import { describe, expect, it } from "vitest";
import { formatPermissions } from "../../web/src/components/scopes";
import { DEFAULT_CONVEX_URL, resolveConfig } from "../../web/src/config";
import { grantablePermissions } from "../../web/src/lib/permissions";
import { csvCell, describeEvent, toCsv, type AuditEvent } from "../../web/src/lib/auditText";
import { parseHash } from "../../web/src/lib/route";
import { ago, expiresSoon, relativeTime } from "../../web/src/lib/time";
import { describeUserAgent } from "../../web/src/lib/ua";

describe("resolveConfig", () => {
  it("prefers the build-time URL, then config.json, then the embedded default", () => {
    expect(resolveConfig({ convexUrl: "http://127.0.0.1:4000" }, { VITE_CONVEX_URL: "https://a.convex.cloud" }).convexUrl).toBe(
      "https://a.convex.cloud",
    );
    expect(resolveConfig({ convexUrl: "http://127.0.0.1:4000/" }, {}).convexUrl).toBe("http://127.0.0.1:4000");
    expect(resolveConfig(null, {}).convexUrl).toBe(DEFAULT_CONVEX_URL);
  });
  it("ignores URLs that are not http(s)", () => {
    expect(resolveConfig({ convexUrl: "javascript:alert(1)" }, {}).convexUrl).toBe(DEFAULT_CONVEX_URL);
    expect(resolveConfig({ convexUrl: 42 }, { VITE_CONVEX_URL: "not a url" }).convexUrl).toBe(DEFAULT_CONVEX_URL);
  });
  it("shows GitHub sign-in only when asked to", () => {
    expect(resolveConfig({}, {}).githubSignIn).toBe(false);
    expect(resolveConfig({ githubSignIn: "yes" }, {}).githubSignIn).toBe(false);
    expect(resolveConfig({ githubSignIn: true }, {}).githubSignIn).toBe(true);
    expect(resolveConfig({}, { VITE_GITHUB_SIGN_IN: "true" }).githubSignIn).toBe(true);
  });
});

describe("grantablePermissions (the scope builder's choices)", () => {
  const roles = { acme: "viewer", beta: "owner" } as const;
  it("offers only what my role grants in that org, and only what fits the tier", () => {
    // One workspace: workspace permissions only, never org or member administration.
    expect(grantablePermissions("acme/site", roles)).toEqual(["workspace:read", "work:read"]);
    expect(grantablePermissions("beta/site", roles)).toEqual(["workspace:read", "workspace:configure", "work:read", "work:write"]);
    expect(grantablePermissions("acme", roles)).toEqual(["org:read", "members:read", "workspace:read", "work:read"]);
    expect(grantablePermissions("beta", roles)).toContain("org:admin");
  });
  it("offers nothing for an org I am not in, and personal permissions only on the global entry", () => {
    expect(grantablePermissions("gamma", roles)).toEqual([]);
    expect(grantablePermissions("beta", roles)).not.toContain("connections:use");
    const global = grantablePermissions("", roles);
    expect(global).toContain("connections:use");
    expect(global).toContain("org:admin"); // granted in beta
  });
});

describe("times and labels", () => {
  const now = Date.UTC(2026, 0, 15, 12);
  it("says relative times a person reads at a glance", () => {
    expect(relativeTime(now - 10_000, now)).toBe("just now");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 minutes ago");
    expect(relativeTime(now + 30 * 86_400_000, now)).toBe("in 30 days");
    expect(relativeTime(now + 6.5 * 86_400_000, now)).toBe("in 7 days");
    expect(relativeTime(now + 200 * 86_400_000, now)).toBe("in 7 months");
    // Never "in 24 hours" next to "in 1 day", nor "in 60 minutes".
    expect(relativeTime(now + 23.6 * 3_600_000, now)).toBe("in 1 day");
    expect(relativeTime(now + 59.7 * 60_000, now)).toBe("in 1 hour");
    expect(relativeTime(now - 23.6 * 3_600_000, now)).toBe("1 day ago");
    expect(relativeTime(now + 23.4 * 3_600_000, now)).toBe("in 23 hours");
    // A past event is never "in …", even when this clock runs behind the server's.
    expect(ago(now + 20_000, now)).toBe("just now");
  });
  it("a token expires soon in the last quarter of its life, at most its last 7 days", () => {
    const day = 86_400_000;
    const week = { createdAt: now, expiresAt: now + 7 * day };
    expect(expiresSoon(week, now)).toBe(false); // a fresh 7-day token is not "soon"
    expect(expiresSoon(week, now + 5 * day)).toBe(false);
    expect(expiresSoon(week, now + 5.5 * day)).toBe(true);
    const year = { createdAt: now, expiresAt: now + 365 * day };
    expect(expiresSoon(year, now + 357 * day)).toBe(false);
    expect(expiresSoon(year, now + 359 * day)).toBe(true);
    expect(expiresSoon(year, now + 366 * day)).toBe(false); // expired, not "soon"
  });

  it("names the CLI by its user agent", () => {
    expect(describeUserAgent("keyhole-cli/0.1.0 (Linux; x64) node/v20.20.2")).toBe("keyhole CLI on Linux");
    expect(describeUserAgent("keyhole-cli/0.1.0 (macOS; arm64) node/v22.1.0")).toBe("keyhole CLI on macOS");
  });

  it("names clients and groups permissions", () => {
    expect(describeUserAgent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")).toBe(
      "Chrome on Linux",
    );
    expect(describeUserAgent("node")).toBe("Node.js");
    expect(describeUserAgent(undefined)).toBe("Unknown client");
    expect(formatPermissions(["work:read", "work:write", "org:read"])).toBe("work: read, write · org: read");
  });
});

describe("routes", () => {
  it("reads the section, a token id and filters from the hash; ignores junk ids", () => {
    expect(parseHash("#/tokens")).toMatchObject({ section: "tokens", id: null });
    expect(parseHash("#/tokens/k57abc_DEF-1")).toMatchObject({ section: "tokens", id: "k57abc_DEF-1" });
    expect(parseHash("#/tokens/<script>")).toMatchObject({ section: "tokens", id: null });
    expect(parseHash("#/audit?token=abc").params.get("token")).toBe("abc");
  });
});

describe("audit sentences and exports", () => {
  const base = { _id: "e1", at: Date.UTC(2030, 0, 1), actorKind: "user", actorName: "you" } as unknown as AuditEvent;
  it("tells what happened with names", () => {
    expect(describeEvent({ ...base, action: "token.created", targetName: "ci", details: "name=ci type=PAT expiresAt=2030-02-01T00:00:00.000Z scopes=*" })).toBe(
      "You created token ci, expiring 2030-02-01",
    );
    expect(describeEvent({ ...base, action: "session.created", actorKind: "pat", actorName: "ci", targetName: "bot-7", details: "agent=bot-7 ttl=600s token=ci" })).toBe(
      "Token ci started agent session bot-7 for 10 minutes",
    );
    expect(describeEvent({ ...base, action: "member.added", targetName: "acme", details: "org=acme user=bob@example.com role=admin" })).toBe(
      "You added bob@example.com to acme as admin",
    );
  });
  it("CSV: quotes what needs quoting and defuses formulas an attacker could plant (e.g. in a user agent)", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    for (const evil of ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tcmd"]) {
      expect(csvCell(evil).replace(/^"/, "").startsWith("'")).toBe(true);
    }
    const csv = toCsv([{ ...base, action: "web_session.created", userAgent: "=cmd|' /C calc'!A0" }]);
    const [header, row] = csv.trim().split("\r\n");
    expect(header).toBe("at,event,summary,actorKind,actor,targetType,target,ip,userAgent,details");
    expect(row).toContain(`"'=cmd|' /C calc'!A0"`);
    expect(row).not.toMatch(/,=/);
  });
});
