// Invitations, attacker first: single-use, expiry, replay by another user,
// e-mail squatting, case-insensitive e-mail, who may invite, and the code
// never stored or listed. convex-test against the real functions.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import * as orgsModule from "../../convex/orgs";
import { sha256Hex } from "../../convex/model/crypto";
import { signIn } from "../helpers/convex";
import { codeOf, messageOf } from "../helpers/errors";
import { patFor, world } from "../tokens/fixtures";

afterEach(() => {
  vi.useRealTimers();
});

async function memberEmails(w: Awaited<ReturnType<typeof world>>, org = "acme") {
  return (await w.alice.as.query(api.orgs.listMembers, { org })).map((m) => m.email).sort();
}

describe("an invitation is single-use and personal", () => {
  test("once accepted, another user replaying the code gets nothing", async () => {
    const w = await world();
    const erin = await signIn(w.t, "erin@example.com");
    const { code } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "member" });
    expect(await w.t.mutation(api.orgs.acceptInvite, { code }).catch(() => "refused")).toBe("refused");
    expect(await erin.as.mutation(api.orgs.acceptInvite, { code })).toEqual({ org: "acme", orgName: "Acme", role: "member" });
    // replay: the attacker and the invitee themself
    expect(await codeOf(w.mallory.as.mutation(api.orgs.acceptInvite, { code }))).toBe("conflict");
    expect(await codeOf(erin.as.mutation(api.orgs.acceptInvite, { code }))).toBe("conflict");
    expect(await memberEmails(w)).not.toContain("mallory@example.com");
    expect(await codeOf(w.mallory.as.query(api.items.get, { workspace: "acme/site", name: "notes" }))).toBe("forbidden");
    expect((await memberEmails(w)).filter((e) => e === "erin@example.com")).toHaveLength(1);
  });

  test("an e-mail-bound invitation refuses any other account, even with the code", async () => {
    const w = await world();
    const erin = await signIn(w.t, "erin@example.com");
    const { code } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "viewer", email: "erin@example.com" });
    expect(await codeOf(w.mallory.as.mutation(api.orgs.acceptInvite, { code }))).toBe("forbidden");
    expect(await messageOf(w.mallory.as.mutation(api.orgs.acceptInvite, { code }))).not.toContain("erin");
    // the refusal used nothing up: the right person still joins
    expect(await codeOf(erin.as.mutation(api.orgs.acceptInvite, { code }))).toBe("ok");
    expect(await memberEmails(w)).toContain("erin@example.com");
  });

  test("it expires (controlled clock)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const w = await world();
    const erin = await signIn(w.t, "erin@example.com");
    const { code, expiresAt } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "member", expiresIn: 3600 });
    vi.setSystemTime(expiresAt);
    expect(await codeOf(erin.as.mutation(api.orgs.acceptInvite, { code }))).toBe("expired");
    expect(await memberEmails(w)).not.toContain("erin@example.com");
  });

  test("at most 7 days; default 7 days", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const w = await world();
    expect(await codeOf(w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "member", expiresIn: 7 * 86400 + 1 }))).toBe(
      "invalid_argument",
    );
    const before = Date.now();
    const { expiresAt } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "member" });
    expect(expiresAt - before).toBe(7 * 86400_000);
  });

  test("a revoked invitation, or one whose inviter lost the right, lets no one in", async () => {
    const w = await world();
    const erin = await signIn(w.t, "erin@example.com");
    const first = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "member" });
    await w.alice.as.mutation(api.orgs.revokeInvite, { org: "acme", inviteId: first.inviteId });
    expect(await codeOf(erin.as.mutation(api.orgs.acceptInvite, { code: first.code }))).toBe("revoked");
    const second = await w.dave.as.mutation(api.orgs.invite, { org: "acme", role: "admin" });
    await w.alice.as.mutation(api.orgs.setRole, { org: "acme", userId: w.dave.userId, role: "viewer" });
    expect(await codeOf(erin.as.mutation(api.orgs.acceptInvite, { code: second.code }))).toBe("revoked");
    expect(await memberEmails(w)).not.toContain("erin@example.com");
  });

  test("unknown and malformed codes are not_found; tokens cannot accept", async () => {
    const w = await world();
    const erin = await signIn(w.t, "erin@example.com");
    const { code } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "member" });
    const flipped = code.slice(0, -1) + (code.endsWith("A") ? "B" : "A");
    for (const bad of [flipped, "khi_", "x".repeat(5000), ""]) {
      expect(await codeOf(erin.as.mutation(api.orgs.acceptInvite, { code: bad }))).toBe("not_found");
    }
    const erinPat = await patFor(w.t, erin, []);
    expect(await codeOf(erinPat.as.mutation(api.orgs.acceptInvite, { code }))).toBe("forbidden");
  });
});

describe("adding a person by e-mail alone no longer grants access", () => {
  test("there is no add-by-email function", () => {
    expect(Object.keys(orgsModule)).not.toContain("addMember");
    expect(Object.keys(orgsModule)).toEqual(expect.arrayContaining(["invite", "acceptInvite"]));
  });

  test("squatting an address gains nothing: the squatter has no code, and the e-mail is not enough", async () => {
    const w = await world();
    // mallory registers the address Bob will be invited at, before Bob does
    const squatter = await signIn(w.t, "bob@corp.test");
    const { code, url } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "member", email: "bob@corp.test" });
    expect(url).toContain(`#/invite?code=${code}`); // the link goes to the person out of band
    expect(await codeOf(squatter.as.query(api.items.get, { workspace: "acme/site", name: "notes" }))).toBe("forbidden");
    expect(await squatter.as.query(api.orgs.listMine, {})).toEqual([]);
    const listed = JSON.stringify(await w.alice.as.query(api.orgs.listInvites, { org: "acme" }));
    expect(listed).not.toContain(code);
    expect(listed).not.toContain(await sha256Hex(code));
    expect(await memberEmails(w)).not.toContain("bob@corp.test");
  });
});

describe("e-mail addresses compare case-insensitively", () => {
  test("an invitation to Bob@Corp.Test is accepted by the account bob@corp.test", async () => {
    const w = await world();
    const bob2 = await signIn(w.t, "bob@corp.test");
    const { code } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "viewer", email: " Bob@Corp.Test " });
    const [inv] = await w.alice.as.query(api.orgs.listInvites, { org: "acme" });
    expect(inv.email).toBe("bob@corp.test");
    expect(await codeOf(bob2.as.mutation(api.orgs.acceptInvite, { code }))).toBe("ok");
  });

  test("malformed addresses are invalid_argument", async () => {
    const w = await world();
    for (const email of ["bob", "bob@", "@corp.test", "b ob@corp.test"]) {
      expect(await codeOf(w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "viewer", email }))).toBe("invalid_argument");
    }
  });
});

describe("who may invite, list and revoke", () => {
  test("members and viewers get forbidden; admins cannot invite owners; strangers can't touch another org's invitations", async () => {
    const w = await world();
    expect(await codeOf(w.carol.as.mutation(api.orgs.invite, { org: "acme", role: "viewer" }))).toBe("forbidden");
    expect(await codeOf(w.bob.as.mutation(api.orgs.invite, { org: "acme", role: "viewer" }))).toBe("forbidden");
    expect(await codeOf(w.carol.as.query(api.orgs.listInvites, { org: "acme" }))).toBe("forbidden");
    expect(await codeOf(w.dave.as.mutation(api.orgs.invite, { org: "acme", role: "owner" }))).toBe("forbidden");
    const { inviteId } = await w.alice.as.mutation(api.orgs.invite, { org: "acme", role: "owner" });
    expect(await codeOf(w.mallory.as.mutation(api.orgs.revokeInvite, { org: "evil", inviteId }))).toBe("not_found");
    expect(await codeOf(w.mallory.as.mutation(api.orgs.revokeInvite, { org: "acme", inviteId }))).toBe("forbidden");
    expect((await w.alice.as.query(api.orgs.listInvites, { org: "acme" }))[0]).toMatchObject({ inviteId, status: "pending" });
  });

  test("invitations are audited in the inviter's and the invitee's logs", async () => {
    const w = await world();
    const erin = await signIn(w.t, "erin@example.com");
    const { code } = await w.dave.as.mutation(api.orgs.invite, { org: "acme", role: "member" });
    await erin.as.mutation(api.orgs.acceptInvite, { code });
    const actions = async (who: { as: typeof erin.as }) =>
      (await who.as.query(api.audit.list, { paginationOpts: { numItems: 50, cursor: null } })).page.map((e) => e.action);
    expect(await actions(w.dave)).toEqual(expect.arrayContaining(["invite.created", "member.added"]));
    expect(await actions(erin)).toContain("member.added");
    const rows = JSON.stringify(await w.t.run(async (ctx) => await ctx.db.query("auditEvents").collect()));
    expect(rows).not.toContain(code);
  });
});
