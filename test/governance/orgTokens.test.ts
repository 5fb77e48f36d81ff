// The org-wide token view and admin revoke, attacker first: an admin sees a
// member's token and revokes it (the next call fails), non-admins get
// forbidden, owners' tokens need an owner, tokens that don't reach the org
// are invisible and untouchable, and no secret is ever listed.
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { sha256Hex } from "../../convex/model/crypto";
import { codeOf } from "../helpers/errors";
import { agentSessionFor, patFor, world } from "../tokens/fixtures";

const read = { workspace: "acme/site", name: "notes" };

async function listAll(who: { as: { query: (...a: any[]) => Promise<any> } }, org = "acme", status?: "active" | "all") {
  const out: any[] = [];
  let cursor: string | null = null;
  for (;;) {
    const r: any = await who.as.query(api.orgs.listOrgTokens, {
      org,
      ...(status ? { status } : {}),
      paginationOpts: { numItems: 2, cursor },
    });
    out.push(...r.page);
    if (r.isDone) return out;
    cursor = r.continueCursor;
  }
}

describe("listOrgTokens", () => {
  test("owners and admins see every credential that reaches the org, and only those; never a secret", async () => {
    const w = await world();
    const carolAcme = await patFor(w.t, w.carol, ["acme/site=work:read"], { name: "carol-site" });
    const carolFull = await patFor(w.t, w.carol, [], { name: "carol-full" });
    const carolPersonal = await patFor(w.t, w.carol, ["tokens:read"], { name: "carol-audit" });
    const bobGlobal = await patFor(w.t, w.bob, ["work:read"], { name: "bob-global" });
    const malloryPat = await patFor(w.t, w.mallory, [], { name: "mallory-full" });
    const session = await agentSessionFor(w.t, w.carol.userId, { parentTokenId: carolAcme.tokenId, scopes: [] });

    for (const admin of [w.alice, w.dave]) {
      const rows = await listAll(admin);
      const ids = rows.map((r) => r.tokenId);
      expect(ids).toEqual(expect.arrayContaining([carolAcme.tokenId, carolFull.tokenId, bobGlobal.tokenId, session.sessionId]));
      expect(ids).not.toContain(carolPersonal.tokenId);
      expect(ids).not.toContain(malloryPat.tokenId);
      const site = rows.find((r) => r.tokenId === carolAcme.tokenId);
      expect(site).toMatchObject({
        kind: "pat",
        name: "carol-site",
        type: "PAT",
        owner: { userId: w.carol.userId, email: "carol@example.com", role: "member" },
        scopes: [{ resource: "acme/site", permissions: ["work:read"] }],
        fullRole: false,
        status: "active",
        policyViolations: [],
      });
      expect(rows.find((r) => r.tokenId === carolFull.tokenId)).toMatchObject({ fullRole: true, scopes: [] });
      expect(rows.find((r) => r.tokenId === session.sessionId)).toMatchObject({ kind: "agent", parentTokenId: carolAcme.tokenId });
      const text = JSON.stringify(rows);
      for (const t of [carolAcme, carolFull, bobGlobal]) {
        expect(text).not.toContain(t.token.split(".")[2]);
        expect(text).not.toContain(await sha256Hex(t.token));
      }
    }
  });

  test("members, viewers, strangers and a token without org:configure get forbidden", async () => {
    const w = await world();
    const davePat = await patFor(w.t, w.dave, ["acme=work:read"]);
    for (const who of [w.carol.as, w.bob.as, w.mallory.as, davePat.as]) {
      expect(await codeOf(who.query(api.orgs.listOrgTokens, { org: "acme" }))).toBe("forbidden");
    }
  });

  test("rows show what the org's policy refuses", async () => {
    const w = await world();
    const long = await patFor(w.t, w.carol, ["acme=work:read"], { expiresIn: 30 * 86400 });
    await w.alice.as.mutation(api.orgs.setTokenPolicy, { org: "acme", policy: { maxLifetimeDays: 7 } });
    const row = (await listAll(w.alice)).find((r) => r.tokenId === long.tokenId);
    expect(row.policyViolations.join(" ")).toMatch(/maxLifetimeDays is 7/);
  });
});

describe("revokeOrgToken", () => {
  test("an admin revokes a member's token: its next call fails; the owner sees who and why", async () => {
    const w = await world();
    const pat = await patFor(w.t, w.carol, ["acme/site=work:read"], { name: "ci" });
    expect(await codeOf(pat.as.query(api.items.get, read))).toBe("ok");
    const r = await w.dave.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: pat.tokenId, reason: "left the project" });
    expect(r).toEqual({ tokenId: pat.tokenId, changed: true, sessionsEnded: 0 });
    expect(await codeOf(pat.as.query(api.items.get, read))).toBe("revoked");
    const [notice] = await w.carol.as.query(api.notices.list, {});
    expect(notice.message).toMatch(/"ci" was revoked by dave@example.com \(admin of acme\): left the project/);
    const events = (await w.carol.as.query(api.audit.list, { paginationOpts: { numItems: 20, cursor: null } })).page;
    const ev = events.find((e) => e.action === "org.token_revoked");
    expect(ev).toMatchObject({ actorKind: "user", actorId: w.dave.userId });
    expect(ev!.details).toMatch(/dave@example.com.*left the project/);
    const info = await w.carol.as.query(api.auth.getApiToken, { tokenId: pat.tokenId });
    expect(info.status).toBe("revoked");
    // again: no change
    expect((await w.dave.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: pat.tokenId })).changed).toBe(false);
  });

  test("revoking a PAT ends its agent sessions; a session can be revoked on its own", async () => {
    const w = await world();
    const pat = await patFor(w.t, w.carol, ["acme=work:read"]);
    const child = await agentSessionFor(w.t, w.carol.userId, { parentTokenId: pat.tokenId, scopes: [] });
    const solo = await agentSessionFor(w.t, w.carol.userId, { scopes: [] });
    expect((await w.dave.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: solo.sessionId })).changed).toBe(true);
    expect(await codeOf(solo.as.query(api.items.get, read))).toBe("revoked");
    expect(await codeOf(child.as.query(api.items.get, read))).toBe("ok");
    expect((await w.dave.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: pat.tokenId })).sessionsEnded).toBe(1);
    expect(await codeOf(child.as.query(api.items.get, read))).toBe("revoked");
  });

  test("non-admins get forbidden; an admin cannot revoke an owner's token, an owner can revoke an admin's", async () => {
    const w = await world();
    const carolPat = await patFor(w.t, w.carol, []);
    const alicePat = await patFor(w.t, w.alice, []);
    const davePat = await patFor(w.t, w.dave, []);
    expect(await codeOf(w.bob.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: carolPat.tokenId }))).toBe("forbidden");
    expect(await codeOf(w.carol.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: alicePat.tokenId }))).toBe(
      "forbidden",
    );
    expect(await codeOf(w.dave.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: alicePat.tokenId }))).toBe("forbidden");
    expect(await codeOf(alicePat.as.query(api.items.get, read))).toBe("ok");
    // a full-role PAT of the owner cannot revoke either: people only
    expect(await codeOf(alicePat.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: carolPat.tokenId }))).toBe(
      "forbidden",
    );
    expect(await codeOf(w.alice.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId: davePat.tokenId }))).toBe("ok");
    expect(await codeOf(carolPat.as.query(api.items.get, read))).toBe("ok");
  });

  test("a token that doesn't reach the org is not found, whoever asks", async () => {
    const w = await world();
    const mallory = await patFor(w.t, w.mallory, []);
    const personal = await patFor(w.t, w.carol, ["tokens:read"]);
    for (const tokenId of [mallory.tokenId, personal.tokenId, "nonsense"]) {
      expect(await codeOf(w.alice.as.mutation(api.orgs.revokeOrgToken, { org: "acme", tokenId }))).toBe("not_found");
    }
    // mallory owns evil, but carol's token doesn't reach it
    const carol = await patFor(w.t, w.carol, []);
    expect(await codeOf(w.mallory.as.mutation(api.orgs.revokeOrgToken, { org: "evil", tokenId: carol.tokenId }))).toBe(
      "not_found",
    );
    expect(await codeOf(carol.as.query(api.items.get, read))).toBe("ok");
    expect(await codeOf(mallory.as.query(api.items.get, { workspace: "evil/den", name: "loot" }))).toBe("ok");
  });
});
