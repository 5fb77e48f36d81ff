// The real `keyhole` CLI as a child process against the embedded backend,
// each scenario with its own XDG_CONFIG_HOME. Checks what a user sees (exit
// codes, stdout/stderr) and what the backend did (through ConvexHttpClient).
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { PASSWORD, passwordSignUp } from "../helpers/signup";
import { homesFor, ok } from "./run";

const DAY_MS = 86_400_000;
/** A test runs the CLI (a Node process) several times: seconds each on a loaded 2-core machine. */
const SLOW = { timeout: 120_000 };

let b: SpawnedBackend;
const homes = homesFor(() => b.url);
beforeAll(async () => {
  b = await spawnBackend();
});
afterAll(async () => {
  homes.cleanup();
  await b?.stop();
});

let n = 0;
function uniqueEmail() {
  return `cli${++n}-${Date.now()}@example.com`;
}

/** A config home whose commands talk to the test backend. */
function home() {
  const h = homes.make();
  const creds = () =>
    JSON.parse(readFileSync(h.credentials, "utf8")) as { url: string; token: string; refreshToken: string; email: string };
  return { ...h, creds };
}

function client(token?: string): ConvexHttpClient {
  const c = new ConvexHttpClient(b.url, { logger: false });
  if (token) c.setAuth(token);
  return c;
}

/** A signed-in CLI home (account created with login --signup) with org acme-N and workspace site. */
async function signedInHome() {
  const h = home();
  const email = uniqueEmail();
  ok(await h.run(["login", "--signup", "--email", email], { input: `${PASSWORD}\n` }));
  const org = `acme-${n}`;
  const owner = client(h.creds().token);
  await owner.mutation(api.orgs.create, { slug: org, name: "Acme" });
  await owner.mutation(api.workspaces.create, { org, slug: "site", name: "Site" });
  return { ...h, email, org };
}

type Created = { token: string; tokenId: string; name: string; scopes: unknown[]; expiresAt: number };

async function createJson(h: Awaited<ReturnType<typeof signedInHome>>, args: string[]): Promise<Created> {
  const r = ok(await h.run(["token", "create", ...args, "--json"]));
  return JSON.parse(r.stdout) as Created;
}

describe("login / whoami / logout", SLOW, () => {
  it("login --signup reads the password from stdin and stores credentials 0600 in a 0700 dir", async () => {
    const h = home();
    const email = uniqueEmail();
    const r = await h.run(["login", "--signup", "--email", email], { input: `${PASSWORD}\n` });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Signed in to ${b.url} as ${email}`);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(statSync(h.credentials).mode & 0o777).toBe(0o600);
    expect(statSync(`${h.dir}/keyhole`).mode & 0o777).toBe(0o700);
    const c = h.creds();
    expect(c).toMatchObject({ url: b.url, email });
    expect(c.token.split(".")).toHaveLength(3);
    expect(typeof c.refreshToken).toBe("string");
    // the stored token is a real sign-in
    expect(await client(c.token).query(api.auth.viewer, {})).toMatchObject({ kind: "user" });

    const who = JSON.parse(ok(await h.run(["whoami", "--json"])).stdout);
    expect(who).toMatchObject({ url: b.url, source: "login", kind: "user", email });
  });

  it("login --url signs in to an account created elsewhere", async () => {
    const email = uniqueEmail();
    await passwordSignUp(b, email);
    const h = home();
    // --url instead of KEYHOLE_URL; the stored login remembers it for later commands
    ok(await h.run(["login", "--url", b.url, "--email", email], { input: `${PASSWORD}\n`, env: { KEYHOLE_URL: undefined } }));
    expect(h.creds()).toMatchObject({ email, url: b.url });
    const who = JSON.parse(ok(await h.run(["whoami", "--json"], { env: { KEYHOLE_URL: undefined } })).stdout);
    expect(who).toMatchObject({ url: b.url, kind: "user", email });
  });

  it("a wrong password fails with one line and stores nothing", async () => {
    const email = uniqueEmail();
    await passwordSignUp(b, email);
    const h = home();
    const r = await h.run(["login", "--email", email], { input: "not the password\n" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("error: wrong email or password (unauthenticated)");
    expect(() => statSync(h.credentials)).toThrow();
  });

  it("an expired access token is refreshed and the file rewritten (still 0600)", async () => {
    const h = await signedInHome();
    const before = h.creds();
    const past = Math.floor(Date.now() / 1000) - 3600;
    const stale = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ exp: past })).toString("base64url")}.x`;
    writeFileSync(h.credentials, JSON.stringify({ ...before, token: stale }), { mode: 0o600 });

    const r = await h.run(["whoami", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: "user", email: h.email });
    const after = h.creds();
    expect(after.token).not.toBe(stale);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(statSync(h.credentials).mode & 0o777).toBe(0o600);
    expect(await client(after.token).query(api.auth.viewer, {})).toMatchObject({ kind: "user" });
  });

  it("a refresh token the server no longer accepts asks for a new login", async () => {
    const h = await signedInHome();
    const c = h.creds();
    const stale = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ exp: 1 })).toString("base64url")}.x`;
    writeFileSync(h.credentials, JSON.stringify({ ...c, token: stale, refreshToken: "not-a-refresh-token" }));
    const r = await h.run(["token", "list"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("error: your sign-in has expired: run keyhole login");
  });

  it("logout ends the session on the server and deletes the file", async () => {
    const h = await signedInHome();
    const { token } = h.creds();
    const r = ok(await h.run(["logout"]));
    expect(r.stderr).toContain("Signed out");
    expect(() => statSync(h.credentials)).toThrow();
    await expect(client(token).query(api.auth.viewer, {})).rejects.toThrow();
    const again = await h.run(["token", "list"]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe("error: not signed in: run keyhole login");
  });
});

describe("token create", SLOW, () => {
  let h: Awaited<ReturnType<typeof signedInHome>>;
  beforeAll(async () => {
    h = await signedInHome();
  });

  it("prints the token alone on stdout and tells the user to save it now; the token works", async () => {
    const r = ok(await h.run(["token", "create", "--name", "plain"]));
    const token = r.stdout.trim();
    expect(r.stdout).toBe(`${token}\n`);
    expect(token.split(".")).toHaveLength(3);
    expect(r.stderr).toContain("Save this token now");
    expect(r.stderr).not.toContain(token);

    const viewer = await client(token).query(api.auth.viewer, {});
    const me = await client(h.creds().token).query(api.users.me, {});
    expect(viewer).toMatchObject({ kind: "pat", userId: me.userId });
  });

  it("--json prints {token, tokenId, name, scopes, expiresAt} and the notice on stderr", async () => {
    const r = ok(await h.run(["token", "create", "--name", "json-out", "--json"]));
    const out = JSON.parse(r.stdout) as Created;
    expect(Object.keys(out).sort()).toEqual(["expiresAt", "name", "scopes", "token", "tokenId"]);
    expect(out).toMatchObject({ name: "json-out", scopes: [] });
    expect(r.stderr).toContain("Save this token now");
    const viewer = await client(out.token).query(api.auth.viewer, {});
    expect(viewer).toMatchObject({ kind: "pat", tokenId: out.tokenId });
  });

  it("--scope org/workspace=perms", async () => {
    const out = await createJson(h, ["--name", "ws", "--scope", `${h.org}/site=work:read,work:write`]);
    expect(out.scopes).toEqual([{ resource: `${h.org}/site`, permissions: ["work:read", "work:write"] }]);
  });

  it("--scope org=perms", async () => {
    const out = await createJson(h, ["--name", "org", "--scope", `${h.org}=workspace:read`]);
    expect(out.scopes).toEqual([{ resource: h.org, permissions: ["workspace:read"] }]);
  });

  it("--scope perms", async () => {
    const out = await createJson(h, ["--name", "global", "--scope", "work:read"]);
    expect(out.scopes).toEqual([{ permissions: ["work:read"] }]);
  });

  it("--scope repeats", async () => {
    const out = await createJson(h, [
      "--name",
      "many",
      "--scope",
      `${h.org}/site=work:write`,
      "--scope",
      `${h.org}=work:read`,
      "--scope",
      "tokens:read",
    ]);
    expect(out.scopes).toEqual([
      { resource: `${h.org}/site`, permissions: ["work:write"] },
      { resource: h.org, permissions: ["work:read"] },
      { permissions: ["tokens:read"] },
    ]);
  });

  it("--scopes-json keeps allowedMatches; backend warnings are shown", async () => {
    // A token policy the new token breaks makes the backend warn.
    const strict = `${h.org}-strict`;
    const owner = client(h.creds().token);
    await owner.mutation(api.orgs.create, { slug: strict, name: "Strict" });
    await owner.mutation(api.orgs.setTokenPolicy, { org: strict, policy: { maxLifetimeDays: 1 } });
    const entries = [
      { resource: `${h.org}/site`, permissions: ["work:read"], allowedMatches: ["Signal/*"] },
      { resource: strict, permissions: ["work:read"], allowedMatches: ["x"] },
    ];
    const r = ok(await h.run(["token", "create", "--name", "globs", "--scopes-json", JSON.stringify(entries), "--json"]));
    expect(JSON.parse(r.stdout).scopes).toEqual(entries);
    expect(r.stderr).toMatch(new RegExp(`warning: the token policy of "${strict}" will refuse this token there`));
  });

  it("--expires, --type and --description reach the token", async () => {
    const before = Date.now();
    const out = await createJson(h, ["--name", "mcp", "--expires", "90d", "--type", "MCP", "-d", "for the IDE"]);
    expect(out.expiresAt).toBeGreaterThanOrEqual(before + 90 * DAY_MS - 1000);
    expect(out.expiresAt).toBeLessThanOrEqual(Date.now() + 90 * DAY_MS);
    const got = JSON.parse(ok(await h.run(["token", "get", "--name", "mcp", "--json"])).stdout);
    expect(got).toMatchObject({ tokenId: out.tokenId, type: "MCP", description: "for the IDE", status: "active" });
  });

  it("backend refusals are one line with their code, exit 1", async () => {
    const unknown = await h.run(["token", "create", "--name", "nope", "--scope", "no-such-org=work:read"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^error: scope resource "no-such-org": .* \(invalid_argument\)$/);
    expect(unknown.stdout).toBe("");

    const dup = await h.run(["token", "create", "--name", "plain"]);
    expect(dup.code).toBe(1);
    expect(dup.stderr.trim()).toMatch(/^error: .*already have an active token named "plain".* \(conflict\)$/);

    const perm = await h.run(["token", "create", "--name", "nope2", "--scope", "work:fly"]);
    expect(perm.code).toBe(1);
    expect(perm.stderr.trim()).toMatch(/unknown permission "work:fly" \(invalid_argument\)$/);

    const tooLong = await h.run(["token", "create", "--name", "nope3", "--expires", "2y"]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr.trim()).toMatch(/365 days.*\(invalid_argument\)$/);
  });
});

describe("token list / get / revoke", SLOW, () => {
  let h: Awaited<ReturnType<typeof signedInHome>>;
  let alpha: Created;
  let beta: Created;
  beforeAll(async () => {
    h = await signedInHome();
    alpha = await createJson(h, ["--name", "alpha", "--scope", `${h.org}/site=work:read`, "-d", "first"]);
    beta = await createJson(h, ["--name", "beta"]);
  });

  it("list --json has a stable shape and never the token text", async () => {
    const r = ok(await h.run(["token", "list", "--json"]));
    const { tokens } = JSON.parse(r.stdout) as { tokens: Record<string, unknown>[] };
    expect(tokens.map((t) => t.name).sort()).toEqual(["alpha", "beta"]);
    for (const t of tokens) {
      expect(Object.keys(t).sort()).toEqual(
        ["createdAt", "description", "expiresAt", "hint", "lastUsedAt", "name", "revokedAt", "scopes", "status", "tokenId", "type"].sort(),
      );
    }
    expect(tokens.find((t) => t.name === "alpha")).toMatchObject({
      tokenId: alpha.tokenId,
      type: "PAT",
      description: "first",
      status: "active",
      scopes: [{ resource: `${h.org}/site`, permissions: ["work:read"] }],
      expiresAt: alpha.expiresAt,
      revokedAt: null,
    });
    expect(r.stdout).not.toContain(alpha.token);
    expect(r.stdout).not.toContain(beta.token);
  });

  it("list without a terminal prints tab-separated lines", async () => {
    const r = ok(await h.run(["token", "list"]));
    const lines = r.stdout.trim().split("\n").map((l) => l.split("\t"));
    const row = lines.find((l) => l[0] === "alpha")!;
    expect(row).toEqual(["alpha", alpha.tokenId, "PAT", "active", `${h.org}/site=work:read`, new Date(alpha.expiresAt).toISOString(), "-"]);
    expect(lines.find((l) => l[0] === "beta")?.[4]).toBe("*");
  });

  it("get --name shows details, never the token", async () => {
    const r = ok(await h.run(["token", "get", "--name", "alpha"]));
    expect(r.stdout).toMatch(/^name\s+alpha$/m);
    expect(r.stdout).toMatch(new RegExp(`^id\\s+${alpha.tokenId}$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^scopes\\s+${h.org}/site=work:read$`, "m"));
    expect(r.stdout).not.toContain(alpha.token);
    const missing = await h.run(["token", "get", "--name", "gamma"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('error: no token named "gamma" (see keyhole token list)');
  });

  it("revoke --name revokes at once; the token stops working; status filters follow", async () => {
    expect(await client(beta.token).query(api.auth.viewer, {})).toMatchObject({ kind: "pat" });
    const r = ok(await h.run(["token", "revoke", "--name", "beta"]));
    expect(r.stderr).toContain(`Revoked token "beta" (${beta.tokenId})`);
    await expect(client(beta.token).query(api.auth.viewer, {})).rejects.toThrow();

    const active = JSON.parse(ok(await h.run(["token", "list", "--json"])).stdout).tokens as { name: string }[];
    expect(active.map((t) => t.name)).toEqual(["alpha"]);
    const revoked = JSON.parse(ok(await h.run(["token", "list", "--json", "--status", "revoked"])).stdout)
      .tokens as { name: string; status: string; revokedAt: number | null }[];
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ name: "beta", status: "revoked" });
    expect(revoked[0].revokedAt).toEqual(expect.any(Number));
    const all = JSON.parse(ok(await h.run(["token", "list", "--json", "--status", "all"])).stdout).tokens as unknown[];
    expect(all).toHaveLength(2);

    const again = await h.run(["token", "revoke", "--name", "beta"]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('error: no active token named "beta" (see keyhole token list)');
    // alpha is untouched
    expect(await client(alpha.token).query(api.auth.viewer, {})).toMatchObject({ kind: "pat", tokenId: alpha.tokenId });
  });

  it("revoke --id --json", async () => {
    const gamma = await createJson(h, ["--name", "gamma"]);
    const r = ok(await h.run(["token", "revoke", "--id", gamma.tokenId, "--json"]));
    expect(JSON.parse(r.stdout)).toMatchObject({ tokenId: gamma.tokenId, name: "gamma", changed: true, sessionsEnded: 0 });
    await expect(client(gamma.token).query(api.auth.viewer, {})).rejects.toThrow();
  });
});

describe("a PAT alone cannot manage tokens", SLOW, () => {
  it("refuses create/list/revoke with KEYHOLE_TOKEN set and no login, and says why", async () => {
    const owner = await signedInHome();
    const pat = await createJson(owner, ["--name", "ci"]);
    const bare = home(); // no login here
    for (const args of [["token", "create", "--name", "sneaky"], ["token", "list"], ["token", "revoke", "--name", "ci"]]) {
      const r = await bare.run(args, { env: { KEYHOLE_TOKEN: pat.token } });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        "error: token management needs an interactive sign-in: run keyhole login; a PAT cannot create or revoke PATs " +
          "(KEYHOLE_TOKEN is set, but no login is stored)",
      );
      expect(r.stderr).not.toContain(pat.token);
    }
    // nothing changed on the server
    const { tokens } = await client(owner.creds().token).query(api.auth.listApiTokens, { status: "all" });
    expect(tokens.map((t) => [t.name, t.status])).toEqual([["ci", "active"]]);
    // and the PAT is still good for what it may do
    const who = JSON.parse(ok(await bare.run(["whoami", "--json"], { env: { KEYHOLE_TOKEN: pat.token } })).stdout);
    expect(who).toMatchObject({ source: "KEYHOLE_TOKEN", kind: "pat", tokenId: pat.tokenId, email: owner.email });
  });
});

describe("agent sessions", SLOW, () => {
  let owner: Awaited<ReturnType<typeof signedInHome>>;
  beforeAll(async () => {
    owner = await signedInHome();
  });

  it("create from a PAT, refresh via stdin JSON, end via stdin: each old credential stops working", async () => {
    const pat = await createJson(owner, ["--name", "agent-parent", "--scope", "work:read"]);
    const agent = home();
    const env = { KEYHOLE_TOKEN: pat.token };

    const created = ok(await agent.run(["session", "create", "--agent", "bot-1", "--ttl", "10m", "--json"], { env }));
    const s1 = JSON.parse(created.stdout) as { token: string; refreshToken: string; sessionId: string; expiresAt: number; agentId: string };
    expect(Object.keys(s1).sort()).toEqual(["agentId", "expiresAt", "refreshToken", "sessionId", "token"]);
    expect(s1.agentId).toBe("bot-1");
    expect(s1.expiresAt).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    expect(await client(s1.token).query(api.auth.viewer, {})).toMatchObject({
      kind: "agent",
      agentId: "bot-1",
      sessionId: s1.sessionId,
    });

    const refreshed = ok(await agent.run(["session", "refresh", "--json"], { input: created.stdout }));
    const s2 = JSON.parse(refreshed.stdout) as typeof s1;
    expect(s2.token).not.toBe(s1.token);
    await expect(client(s1.token).query(api.auth.viewer, {})).rejects.toThrow();
    expect(await client(s2.token).query(api.auth.viewer, {})).toMatchObject({ kind: "agent", agentId: "bot-1" });

    const ended = ok(await agent.run(["session", "end", "--json"], { input: refreshed.stdout }));
    expect(JSON.parse(ended.stdout)).toEqual({ ended: true });
    await expect(client(s2.token).query(api.auth.viewer, {})).rejects.toThrow();

    const reused = await agent.run(["session", "refresh"], { input: `${s1.refreshToken}\n` });
    expect(reused.code).toBe(1);
    expect(reused.stderr.trim().split("\n")).toHaveLength(1);
    expect(reused.stderr).toMatch(/^error: .*\((revoked|expired|unauthenticated|invalid_argument)\)$/m);
    expect(reused.stderr).not.toContain(s1.refreshToken);
  });

  it("create with the stored login (no KEYHOLE_TOKEN), human output", async () => {
    const r = ok(await owner.run(["session", "create", "--agent", "helper", "--scope", `${owner.org}/site=work:read`]));
    const token = /^token: (\S+)$/m.exec(r.stdout)?.[1];
    expect(token).toBeDefined();
    expect(r.stdout).toMatch(/^refresh token: \S+$/m);
    expect(r.stderr).toContain("Save these now");
    expect(await client(token!).query(api.auth.viewer, {})).toMatchObject({ kind: "agent", agentId: "helper" });
    const ended = ok(await owner.run(["session", "end", "--token", token!]));
    expect(ended.stderr).toContain("Session ended.");
    await expect(client(token!).query(api.auth.viewer, {})).rejects.toThrow();
  });

  it("an out-of-range ttl is the backend's one-line refusal", async () => {
    const r = await owner.run(["session", "create", "--agent", "x", "--ttl", "2d"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: ttl .*\(invalid_argument\)$/);
  });
});
