// Governance on the embedded backend with the official clients: real
// password sign-ups, real PAT JWTs through ConvexHttpClient, a live
// ConvexClient subscription. Invitations (single-use, replay by another
// user, squatting), case-insensitive e-mail, an admin revoking a member's
// token, a policy change hitting an existing token, regenerate with grace.
import type { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { spawnBackend, type SpawnedBackend } from "../helpers/backend";
import { codeOf, errorOf, outcome } from "../helpers/errors";
import { passwordSignIn, passwordSignUp } from "../helpers/signup";

let b: SpawnedBackend;
let alice: ConvexHttpClient; // owner of acme
let dave: ConvexHttpClient; // admin of acme
let carol: ConvexHttpClient; // member of acme

async function signUp(email: string): Promise<ConvexHttpClient> {
  return b.httpClient((await passwordSignUp(b, email)).token);
}

async function join(client: ConvexHttpClient, role: "admin" | "member" | "viewer") {
  const { code } = await alice.mutation(api.orgs.invite, { org: "acme", role });
  await client.mutation(api.orgs.acceptInvite, { code });
}

const read = { workspace: "acme/site", name: "notes" };

beforeAll(async () => {
  b = await spawnBackend();
  alice = await signUp("alice@acme.test");
  await alice.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  await alice.mutation(api.items.put, { ...read, data: "hello" });
  dave = await signUp("dave@acme.test");
  carol = await signUp("carol@acme.test");
  await join(dave, "admin");
  await join(carol, "member");
}, 60_000);

afterAll(async () => {
  await b?.stop();
});

describe("e-mail addresses are case-insensitive accounts", () => {
  test("an upper-cased copy of an existing address cannot become a second account, and signs in to the first", async () => {
    const first = b.httpClient((await passwordSignUp(b, "Erin@Example.com")).token);
    const me = await first.query(api.users.me, {});
    expect(me.email).toBe("erin@example.com");
    // someone else (another password) cannot register the address in other letters
    const other = { email: "ERIN@example.com", password: "a different password", flow: "signUp" };
    await expect(b.httpClient().action(api.auth.signIn, { provider: "password", params: other })).rejects.toThrow(/already exists/);
    // the owner signing up or in with any capitalization lands in the one account
    for (const tokens of [await passwordSignUp(b, "ERIN@example.com"), await passwordSignIn(b, "erin@EXAMPLE.com")]) {
      expect((await b.httpClient(tokens.token).query(api.users.me, {})).userId).toBe(me.userId);
    }
  });
});

describe("invitations", () => {
  test("single-use: another user replaying an accepted code gets conflict and no access", async () => {
    const frank = await signUp("frank@acme.test");
    const mallory = await signUp("mallory@evil.test");
    const { code } = await alice.mutation(api.orgs.invite, { org: "acme", role: "viewer" });
    expect(await frank.mutation(api.orgs.acceptInvite, { code })).toMatchObject({ org: "acme", role: "viewer" });
    expect(await codeOf(mallory.mutation(api.orgs.acceptInvite, { code }))).toBe("conflict");
    expect(await codeOf(mallory.query(api.items.get, read))).toBe("forbidden");
    expect(await codeOf(frank.query(api.items.get, read))).toBe("ok");
  });

  test("squatting an e-mail gains nothing: the squatter holds the address, not the code", async () => {
    const squatter = await signUp("bob@corp.test"); // registered before the real Bob
    const { code } = await alice.mutation(api.orgs.invite, { org: "acme", role: "member", email: "Bob@Corp.test" });
    expect(await squatter.query(api.orgs.listMine, {})).toEqual([]);
    expect(await codeOf(squatter.query(api.items.get, read))).toBe("forbidden");
    expect(await codeOf(squatter.mutation(api.orgs.acceptInvite, { code: "khi_" + "A".repeat(43) }))).toBe("not_found");
    const members = (await alice.query(api.orgs.listMembers, { org: "acme" })).map((m) => m.email);
    expect(members).not.toContain("bob@corp.test");
    expect(JSON.stringify(await alice.query(api.orgs.listInvites, { org: "acme" }))).not.toContain(code);
  });

  test("a non-admin gets forbidden", async () => {
    expect(await codeOf(carol.mutation(api.orgs.invite, { org: "acme", role: "viewer" }))).toBe("forbidden");
    expect(await codeOf(carol.query(api.orgs.listOrgTokens, { org: "acme" }))).toBe("forbidden");
    expect(await codeOf(carol.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 1 } }))).toBe("forbidden");
  });
});

describe("the org-wide token view", () => {
  test("an admin sees a member's token and revokes it: the next call and a live query fail", async () => {
    const { token, tokenId } = await carol.mutation(api.auth.createApiToken, { name: "carol-ci", scopes: ["acme/site=work:read"] });
    const pat = b.httpClient(token);
    expect(await codeOf(pat.query(api.items.get, read))).toBe("ok");
    const live = b.client();
    live.setAuth(async () => token);
    const seen: string[] = [];
    const unsubscribe = live.onUpdate(api.items.get, read, () => seen.push("ok"), (e) => seen.push(String((e as { data?: { code?: string } }).data?.code ?? e)));
    await waitFor(() => seen.includes("ok"));

    const rows = (await dave.query(api.orgs.listOrgTokens, { org: "acme" })).page;
    const row = rows.find((r) => r.tokenId === tokenId);
    expect(row).toMatchObject({ name: "carol-ci", owner: { email: "carol@acme.test", role: "member" }, status: "active" });
    expect(JSON.stringify(rows)).not.toContain(token.split(".")[2]);

    await dave.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId, reason: "rotating CI" });
    expect(await outcome(pat.query(api.items.get, read))).toBe("revoked");
    await waitFor(() => seen.includes("revoked"));
    unsubscribe();
    const notices = await carol.query(api.notices.list, {});
    expect(notices[0].message).toMatch(/revoked by dave@acme.test \(admin of acme\): rotating CI/);
  });

  test("a policy change applies at once to an existing token, with a message naming the policy", async () => {
    const { token } = await carol.mutation(api.auth.createApiToken, { name: "carol-month", scopes: ["acme=work:read"], expiresIn: 30 * 86400 });
    const pat = b.httpClient(token);
    expect(await codeOf(pat.query(api.items.get, read))).toBe("ok");
    await dave.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 7 } });
    try {
      const err = await errorOf(pat.query(api.items.get, read));
      expect(err.code).toBe("forbidden");
      expect(err.message).toMatch(/token policy of "acme".*maxLifetimeDays is 7/);
      const created = await carol.mutation(api.auth.createApiToken, { name: "carol-long", scopes: [], expiresIn: 30 * 86400 });
      expect(created.warnings?.join(" ")).toMatch(/maxLifetimeDays/);
    } finally {
      await dave.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: null } });
    }
    expect(await codeOf(pat.query(api.items.get, read))).toBe("ok");
  });
});

describe("regenerate with real secrets", () => {
  test("during the grace both secrets work; with no grace the old one fails at once", async () => {
    const first = await carol.mutation(api.auth.createApiToken, { name: "rotating", scopes: ["acme/site=work:read"] });
    const second = await carol.mutation(api.auth.regenerateApiToken, { tokenId: first.tokenId, graceSeconds: 3600 });
    expect(await codeOf(b.httpClient(first.token).query(api.items.get, read))).toBe("ok");
    expect(await codeOf(b.httpClient(second.token).query(api.items.get, read))).toBe("ok");
    const third = await carol.mutation(api.auth.regenerateApiToken, { tokenId: second.tokenId });
    expect(await outcome(b.httpClient(second.token).query(api.items.get, read))).toBe("expired");
    expect(await codeOf(b.httpClient(third.token).query(api.items.get, read))).toBe("ok");
    const renamed = await carol.mutation(api.auth.updateApiToken, { tokenId: third.tokenId, name: "rotated", description: "CI" });
    expect(renamed).toMatchObject({ name: "rotated", description: "CI", status: "active" });
  });
});

async function waitFor(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}
