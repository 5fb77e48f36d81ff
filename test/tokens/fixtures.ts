// Shared setup for the token and authorize() tests: a small world of people,
// orgs, workspaces and items, plus helpers to mint tokens. (Error codes and
// messages: test/helpers/errors.ts.)
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import type { ScopeInput } from "../../convex/model/scopes";
import { asToken, makeTest, signIn, type TestConvex } from "../helpers/convex";
import { joinOrg } from "../helpers/invite";

export type Person = Awaited<ReturnType<typeof signIn>>;

/**
 * acme (alice owner, carol member, bob viewer, dave admin) with workspaces
 * site and lab; evil (mallory owner) with workspace den. Items in acme/site:
 * Signal/temp-1, Signal/temp-2, Config/db/url, notes.
 */
export async function world() {
  const t = await makeTest();
  const alice = await signIn(t, "alice@example.com");
  const bob = await signIn(t, "bob@example.com");
  const carol = await signIn(t, "carol@example.com");
  const dave = await signIn(t, "dave@example.com");
  const mallory = await signIn(t, "mallory@example.com");
  await alice.as.mutation(api.orgs.create, { slug: "acme", name: "Acme" });
  await alice.as.mutation(api.workspaces.create, { org: "acme", slug: "site", name: "Site" });
  await alice.as.mutation(api.workspaces.create, { org: "acme", slug: "lab", name: "Lab" });
  await joinOrg(alice, "acme", bob, "viewer");
  await joinOrg(alice, "acme", carol, "member");
  await joinOrg(alice, "acme", dave, "admin");
  await mallory.as.mutation(api.orgs.create, { slug: "evil", name: "Evil" });
  await mallory.as.mutation(api.workspaces.create, { org: "evil", slug: "den", name: "Den" });
  for (const name of ["Signal/temp-1", "Signal/temp-2", "Config/db/url", "notes"]) {
    await alice.as.mutation(api.items.put, { workspace: "acme/site", name, data: { name } });
  }
  await mallory.as.mutation(api.items.put, { workspace: "evil/den", name: "loot", data: 1 });
  return { t, alice, bob, carol, dave, mallory };
}

let counter = 0;

/** Mints a PAT for `who` and returns an accessor that presents it. */
export async function patFor(
  t: TestConvex,
  who: Person,
  scopes: ScopeInput[],
  opts: { expiresIn?: number; name?: string } = {},
) {
  const created = await who.as.mutation(api.auth.createApiToken, {
    name: opts.name ?? `t${++counter}`,
    scopes,
    expiresIn: opts.expiresIn,
  });
  return { ...created, as: asToken(t, "pat", created.tokenId) };
}

/** Inserts a live agent session row as the sessions feature would (optionally a child of a PAT). */
export async function agentSessionFor(
  t: TestConvex,
  userId: Id<"users">,
  opts: { parentTokenId?: Id<"apiTokens">; scopes?: { resource?: string; permissions: string[] }[] } = {},
) {
  const sessionId = await t.run(async (ctx) => {
    const now = Date.now();
    const parent = opts.parentTokenId ? await ctx.db.get("apiTokens", opts.parentTokenId) : null;
    return await ctx.db.insert("agentSessions", {
      userId,
      agentId: "agent-1",
      familyId: `fam-${++counter}`,
      parentTokenId: opts.parentTokenId,
      scopes: opts.scopes ?? [],
      parentScopes: parent?.scopes,
      tokenHash: `h${counter}`,
      refreshHash: `r${counter}`,
      createdAt: now,
      expiresAt: now + 3600_000,
      familyExpiresAt: now + 24 * 3600_000,
    });
  });
  return { sessionId, as: asToken(t, "agent", sessionId) };
}
