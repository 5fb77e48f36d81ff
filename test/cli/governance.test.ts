// The CLI's governance commands as a child process against the embedded
// backend: `keyhole org invite|accept|tokens|revoke-token|policy` and
// `keyhole token regenerate|update`. What a user sees, and what the backend did.
import { readFileSync } from "node:fs";
import { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { codeOf } from "../helpers/errors";
import { PASSWORD } from "../helpers/signup";
import { homesFor, ok } from "./run";

let b: SpawnedBackend;
const homes = homesFor(() => b.url);
beforeAll(async () => {
  b = await spawnBackend();
}, 60_000);
afterAll(async () => {
  homes.cleanup();
  await b?.stop();
});

async function signedIn(email: string) {
  const h = homes.make();
  const run = (args: string[]) => h.run(args);
  ok(await h.run(["login", "--signup", "--email", email], { input: `${PASSWORD}\n` }));
  const token = (JSON.parse(readFileSync(h.credentials, "utf8")) as { token: string }).token;
  return { run, client: pat(token) };
}

function pat(token: string): ConvexHttpClient {
  const c = new ConvexHttpClient(b.url, { logger: false });
  c.setAuth(token);
  return c;
}

const read = { workspace: "gov/site", name: "notes" };

// Each scenario signs up through the CLI (scrypt) and runs a dozen CLI processes: slow on a shared machine.
describe("org governance from the CLI", { timeout: 120_000 }, () => {
  it("invite → accept → org tokens → revoke-token: the member's token fails on its next call", async () => {
    const owner = await signedIn("owner@gov.test");
    const member = await signedIn("member@gov.test");
    await owner.client.mutation(api.orgs.create, { slug: "gov", name: "Gov" });
    await owner.client.mutation(api.workspaces.create, { org: "gov", slug: "site", name: "Site" });
    await owner.client.mutation(api.items.put, { ...read, data: 1 });

    const inv = ok(await owner.run(["org", "invite", "--org", "gov", "--role", "member", "--email", "MEMBER@gov.test"]));
    const url = inv.stdout.trim();
    expect(url).toMatch(/#\/invite\?code=khi_/);
    expect(ok(await member.run(["org", "accept", url])).stderr).toContain("Joined Gov (gov) as member");
    expect((await member.run(["org", "accept", url])).code).toBe(1); // single-use

    const created = JSON.parse(ok(await member.run(["token", "create", "--name", "ci", "--scope", "gov/site=work:read", "--json"])).stdout);
    expect(await codeOf(pat(created.token).query(api.items.get, read))).toBe("ok");

    const listed = JSON.parse(ok(await owner.run(["org", "tokens", "--org", "gov", "--json"])).stdout);
    const row = listed.tokens.find((t: { tokenId: string }) => t.tokenId === created.tokenId);
    expect(row).toMatchObject({ name: "ci", owner: { email: "member@gov.test", role: "member" }, status: "active" });
    expect(JSON.stringify(listed)).not.toContain(created.token.split(".")[2]);
    const tsv = ok(await owner.run(["org", "tokens", "--org", "gov"])).stdout;
    expect(tsv.split("\n").find((l) => l.includes(created.tokenId))?.split("\t").slice(0, 3)).toEqual([
      "member@gov.test",
      "ci",
      created.tokenId,
    ]);
    // a member may not list or revoke
    expect((await member.run(["org", "tokens", "--org", "gov"])).stderr).toMatch(/^error: .*org:configure/m);

    ok(await owner.run(["org", "revoke-token", "--org", "gov", "--id", created.tokenId, "--reason", "offboarding"]));
    expect(await codeOf(pat(created.token).query(api.items.get, read))).toBe("revoked");
  });

  it("org policy shows and sets the token policy; an existing token is refused at once", async () => {
    const owner = await signedIn("owner2@gov.test");
    await owner.client.mutation(api.orgs.create, { slug: "gov2", name: "Gov2" });
    const created = JSON.parse(ok(await owner.run(["token", "create", "--name", "long", "--scope", "gov2=org:read", "--expires", "30d", "--json"])).stdout);
    expect(ok(await owner.run(["org", "policy", "--org", "gov2"])).stdout).toContain("maxLifetimeDays        none");
    const set = JSON.parse(ok(await owner.run(["org", "policy", "--org", "gov2", "--max-lifetime", "7d", "--allow-mcp", "off", "--json"])).stdout);
    expect(set).toMatchObject({ maxLifetimeDays: 7, allowMcpClients: false, requireExplicitScopes: false });
    expect(await codeOf(pat(created.token).query(api.workspaces.list, { org: "gov2" }))).toBe("forbidden");
    expect((await owner.run(["org", "policy", "--org", "gov2", "--max-lifetime", "1.5d"])).code).toBe(2);
  });

  it("token regenerate --grace keeps the old secret for the grace; token update renames", async () => {
    const me = await signedIn("rotator@gov.test");
    const first = JSON.parse(ok(await me.run(["token", "create", "--name", "deploy", "--json"])).stdout);
    const r = ok(await me.run(["token", "regenerate", "--name", "deploy", "--grace", "1h"]));
    const second = r.stdout.trim();
    expect(second).not.toBe(first.token);
    expect(r.stderr).toMatch(/old secret .* keeps working until/);
    for (const t of [first.token, second]) expect(await codeOf(pat(t).query(api.auth.viewer, {}))).toBe("ok");
    const third = JSON.parse(ok(await me.run(["token", "regenerate", "--name", "deploy", "--json"])).stdout);
    expect(third.previousExpiresAt).toBeLessThanOrEqual(Date.now());
    expect(await codeOf(pat(third.token).query(api.auth.viewer, {}))).toBe("ok");
    ok(await me.run(["token", "update", "--id", third.tokenId, "--new-name", "deploy-v2", "-d", "rotated"]));
    const got = JSON.parse(ok(await me.run(["token", "get", "--id", third.tokenId, "--json"])).stdout);
    expect(got).toMatchObject({ name: "deploy-v2", description: "rotated" });
    expect((await me.run(["token", "regenerate", "--name", "deploy-v2", "--grace", "8d"])).code).toBe(2);
  });
});
