// The dashboard's pure helpers (no browser): where it finds the backend, what
// the scope builder offers, how times and clients are described.
import { describe, expect, it } from "vitest";
import { formatPermissions } from "../../web/src/components/scopes";
import { DEFAULT_CONVEX_URL, resolveConfig } from "../../web/src/config";
import { grantablePermissions } from "../../web/src/lib/permissions";
import { ago, relativeTime } from "../../web/src/lib/time";
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
  it("offers only what my role grants in that org", () => {
    expect(grantablePermissions("acme/site", roles)).toEqual(["org:read", "members:read", "workspace:read", "work:read"]);
    expect(grantablePermissions("acme", roles)).not.toContain("work:write");
    expect(grantablePermissions("beta/site", roles)).toContain("org:admin");
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
    // A past event is never "in …", even when this clock runs behind the server's.
    expect(ago(now + 20_000, now)).toBe("just now");
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
